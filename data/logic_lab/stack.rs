/// A stack with a fixed capacity: `push` refuses instead of growing.
pub struct BoundedStack<T> {
    items: Vec<T>,
    capacity: usize,
}

impl<T> BoundedStack<T> {
    pub fn new(capacity: usize) -> Self {
        BoundedStack { items: Vec::with_capacity(capacity), capacity }
    }

    /// Pushes `value`, or gives it back when the stack is full.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.items.len() == self.capacity {
            return Err(value);
        }
        self.items.push(value);
        Ok(())
    }

    pub fn pop(&mut self) -> Option<T> {
        self.items.pop()
    }
}

/// Checks that every bracket is closed in the right order.
pub fn balanced(text: &str) -> bool {
    let mut open = Vec::new();
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => open.push(c),
            ')' => if open.pop() != Some('(') { return false },
            ']' => if open.pop() != Some('[') { return false },
            '}' => if open.pop() != Some('{') { return false },
            _ => {}
        }
    }
    open.is_empty()
}
