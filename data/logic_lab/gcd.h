#ifndef LOGICLAB_GCD_H
#define LOGICLAB_GCD_H

/* A fraction kept in lowest terms. */
struct fraction {
    long num;
    long den;
};

long gcd(long a, long b);
struct fraction reduce(struct fraction f);

#endif
