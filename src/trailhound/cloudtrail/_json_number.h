/* The number grammar both compiled readers accept (`_skim.c` and `_requests.c`), in one place
 * so that they can never disagree on which numbers refuse a text.
 *
 * RFC 8259's grammar, and two limits beyond it that `skim.py` states (MAX_INT_DIGITS,
 * MAX_EXP_DIGITS, which `skim_reference._number` applies): msgspec refuses numbers out of a
 * double's range and very long integers, and digit counts bound those cheaply. A change here
 * is a change there too.
 */
#ifndef TRAILHOUND_JSON_NUMBER_H
#define TRAILHOUND_JSON_NUMBER_H

#include <stddef.h>
#include <stdint.h>

#define MAX_INT_DIGITS 19
#define MAX_EXP_DIGITS 2

/* The number starting at p, bounds-checked against end: just past it, or NULL. */
static inline const uint8_t *json_number_end(const uint8_t *p, const uint8_t *end) {
    if (p < end && *p == '-') p++;
    const uint8_t *digits = p;
    if (p < end && *p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == digits) return NULL;
    }
    if (p - digits > MAX_INT_DIGITS) return NULL;
    if (p < end && *p == '.') {
        const uint8_t *fraction = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == fraction) return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const uint8_t *exponent = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == exponent || p - exponent > MAX_EXP_DIGITS) return NULL;
    }
    return p;
}

#endif
