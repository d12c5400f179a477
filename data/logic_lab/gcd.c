#include "gcd.h"

/* Euclid's algorithm: gcd(a, b) = gcd(b, a mod b), gcd(a, 0) = |a|. */
long gcd(long a, long b) {
    while (b != 0) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a < 0 ? -a : a;
}

/* Divides both parts by their gcd and keeps the sign on the numerator. */
struct fraction reduce(struct fraction f) {
    long g = gcd(f.num, f.den);
    if (g != 0) {
        f.num /= g;
        f.den /= g;
    }
    if (f.den < 0) {
        f.num = -f.num;
        f.den = -f.den;
    }
    return f;
}
