package logiclab;

import java.util.ArrayList;
import java.util.List;

/** A bounded stack that refuses to grow past its capacity. */
public class Sample {
    public static final int DEFAULT_CAPACITY = 16;

    private final List<Integer> items = new ArrayList<>();
    private final int capacity;

    public Sample(int capacity) {
        this.capacity = capacity;
    }

    /** Pushes a value; returns false instead of growing past the capacity. */
    public boolean push(int value) {
        if (items.size() >= capacity) {
            return false;
        }
        items.add(value);
        return true;
    }

    /** Removes and returns the top value, or -1 when empty. */
    public int pop() {
        return items.isEmpty() ? -1 : items.remove(items.size() - 1);
    }

    public static boolean isPalindrome(String text) {
        int i = 0, j = text.length() - 1;
        while (i < j) {
            if (text.charAt(i++) != text.charAt(j--)) {
                return false;
            }
        }
        return true;
    }
}
