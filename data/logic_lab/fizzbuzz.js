// Classic FizzBuzz: multiples of 3 and 5 become words, the rest stay numbers.
function fizzbuzz(n) {
  const out = [];
  for (let i = 1; i <= n; i++) {
    if (i % 15 === 0) out.push("FizzBuzz");
    else if (i % 3 === 0) out.push("Fizz");
    else if (i % 5 === 0) out.push("Buzz");
    else out.push(String(i));
  }
  return out;
}

const memoize = (fn) => {
  const cache = new Map();
  return (x) => (cache.has(x) ? cache.get(x) : cache.set(x, fn(x)).get(x));
};

module.exports = { fizzbuzz, memoize };
