import { useState } from "react";

interface CounterProps {
  start: number;
  step?: number;
}

/** A counter that never goes below zero. */
export function Counter({ start, step = 1 }: CounterProps) {
  const [value, setValue] = useState(start);
  const decrement = () => setValue((v) => Math.max(0, v - step));
  return (
    <div>
      <button onClick={decrement}>-</button>
      <span>{value}</span>
      <button onClick={() => setValue((v) => v + step)}>+</button>
    </div>
  );
}
