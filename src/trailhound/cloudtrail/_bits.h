/* The lowest set bit of a nonzero SSE2 byte mask, for the compiled readers' 16-byte scans
 * (`_skim.c`, `_columns.c`): one instruction where the compiler has it. */
#ifndef TRAILHOUND_BITS_H
#define TRAILHOUND_BITS_H

#if defined(__GNUC__) || defined(__clang__)
#define FIRST_BIT(m) __builtin_ctz((unsigned)(m))
#else
static inline int FIRST_BIT(unsigned m) {
    int i = 0;
    while (!(m & 1u)) {
        m >>= 1;
        i++;
    }
    return i;
}
#endif

#endif
