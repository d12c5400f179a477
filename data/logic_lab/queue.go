package logiclab

import "errors"

// ErrEmpty is returned by Pop on an empty queue.
var ErrEmpty = errors.New("queue is empty")

// Queue is a FIFO ring buffer that grows by doubling.
type Queue struct {
	items      []int
	head, size int
}

// Push appends v, doubling the buffer when it is full.
func (q *Queue) Push(v int) {
	if q.size == len(q.items) {
		grown := make([]int, max(1, 2*len(q.items)))
		for i := 0; i < q.size; i++ {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.size)%len(q.items)] = v
	q.size++
}

// Pop removes and returns the oldest value.
func (q *Queue) Pop() (int, error) {
	if q.size == 0 {
		return 0, ErrEmpty
	}
	v := q.items[q.head]
	q.head = (q.head + 1) % len(q.items)
	q.size--
	return v, nil
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
