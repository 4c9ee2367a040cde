/* Compiled column makers: a few of the columnar step's ECS columns made straight from the
 * buffers of Arrow string arrays (what a skimmer gives), one pass a column, with exactly the
 * answer `columnar.py`'s Arrow kernels give. `compiled_columns.py` is the only caller.
 *
 * A column comes in as (validity or None, offsets, data, offset, length): the buffers of a
 * `pa.string()` array (int32 offsets) and its slice. Every buffer is checked against the slice
 * and every value's offsets against the data before anything is read: a mismatch is a
 * ValueError, never a read out of bounds. Answers are bytes objects, wrapped by the caller:
 *
 *   cleaned(column) -> None | (validity, null_count)
 *       None when Elastic's cleaning drops no value (the column stays as it is); else a
 *       validity bitmap for the same offsets and data, bits counted from the slice's offset,
 *       off at the dropped values ("", "-", "none").
 *   coalesced(columns, clean) -> None | (validity or None, offsets, data, null_count)
 *       per row the first valid value (with `clean`, the first Elastic keeps), a new array;
 *       None when its data would not fit int32 offsets.
 *   outcome(codes, messages) -> (offsets, data)
 *       "failure" where a code or a message is kept by the cleaning, else "success".
 *   event_times(column) -> (micros, shaped, count)
 *       CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ` times (year 0001 on, each part in range, a day
 *       its month has) as int64 microseconds since the epoch, and a bitmap of those rows (the
 *       times' validity and the rows' mask at once); the others are left to the exact parser.
 *   holding(column, positions, literal) -> bytes
 *       per position (int64 rows of the column, in any order) 1 where the row's text holds the
 *       literal's bytes (two or more), 0 where not or null. Only the rows at the positions are
 *       read, and only their offsets checked: the column may be a skimmer's whole block, long,
 *       of which a call reads a few rows.
 *   codes(column) -> (codes, count)
 *       per row an int32 code for its value, numbered by first appearance, nulls `count` (the
 *       number of distinct values): `pc.dictionary_encode`'s indices with their nulls filled
 *       by the dictionary's length. A row equal to the row before takes its code without a
 *       lookup (columns run in blocks of one value); the others are found in a hash table.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct {
    Py_buffer validity; /* buf NULL when the column has no validity bitmap */
    Py_buffer offsets;
    Py_buffer data;
    Py_ssize_t offset;
    Py_ssize_t length;
    int has_validity;
    int has_data;
} Column;

static void column_release(Column *c) {
    if (c->has_validity) PyBuffer_Release(&c->validity);
    if (c->offsets.obj) PyBuffer_Release(&c->offsets);
    if (c->has_data) PyBuffer_Release(&c->data);
    memset(c, 0, sizeof(*c));
}

static int get_bit(const uint8_t *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static void set_bit(uint8_t *bits, Py_ssize_t i) { bits[i >> 3] |= (uint8_t)(1u << (i & 7)); }

static void clear_bit(uint8_t *bits, Py_ssize_t i) {
    bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static int32_t offset_at(const Column *c, Py_ssize_t row) {
    int32_t v;
    memcpy(&v, (const char *)c->offsets.buf + (c->offset + row) * 4, 4); /* may be unaligned */
    return v;
}

static int is_valid(const Column *c, Py_ssize_t row) {
    return !c->has_validity || get_bit(c->validity.buf, c->offset + row);
}

/* Reads a column tuple into `c`: its buffers, their lengths checked against its slice but not
 * its values' offsets (`column_read` checks those all at once, `shell_value` a row's when it
 * is read). */
static int column_shell(PyObject *spec, Column *c) {
    memset(c, 0, sizeof(*c));
    PyObject *validity, *offsets, *data;
    if (!PyArg_ParseTuple(spec, "OOOnn", &validity, &offsets, &data, &c->offset, &c->length))
        return -1;
    if (c->offset < 0 || c->length < 0 || c->offset > PY_SSIZE_T_MAX / 8 - c->length - 1) {
        PyErr_SetString(PyExc_ValueError, "a column's offset and length are out of range");
        return -1;
    }
    Py_ssize_t end = c->offset + c->length;
    if (PyObject_GetBuffer(offsets, &c->offsets, PyBUF_SIMPLE) < 0) return -1;
    if (validity != Py_None) {
        if (PyObject_GetBuffer(validity, &c->validity, PyBUF_SIMPLE) < 0) goto fail;
        c->has_validity = 1;
    }
    if (data != Py_None) {
        if (PyObject_GetBuffer(data, &c->data, PyBUF_SIMPLE) < 0) goto fail;
        c->has_data = 1;
    }
    if (c->has_validity && c->validity.len < (end + 7) / 8) {
        PyErr_SetString(PyExc_ValueError, "a column's validity bitmap is too short");
        goto fail;
    }
    if (c->offsets.len / 4 < end + 1) {
        PyErr_SetString(PyExc_ValueError, "a column's offsets are too short");
        goto fail;
    }
    return 0;
fail:
    column_release(c);
    return -1;
}

/* Reads a column tuple into `c` and checks it whole: afterwards every row's [start, end) lies
 * in the data, so no later read needs a check. */
static int column_read(PyObject *spec, Column *c) {
    if (column_shell(spec, c) < 0) return -1;
    Py_ssize_t size = c->has_data ? c->data.len : 0;
    int32_t previous = offset_at(c, 0);
    if (previous < 0 || previous > size) goto bad;
    for (Py_ssize_t row = 0; row < c->length; row++) {
        int32_t next = offset_at(c, row + 1);
        if (next < previous || next > size) goto bad;
        previous = next;
    }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "a column's offsets lie outside its data");
    column_release(c);
    return -1;
}

static const char *value_at(const Column *c, Py_ssize_t row, Py_ssize_t *size) {
    int32_t start = offset_at(c, row);
    *size = offset_at(c, row + 1) - start;
    return c->has_data ? (const char *)c->data.buf + start : "";
}

/* Elastic's cleaning drops these values (payloads.DROPPED_TEXT) */
static int dropped(const char *value, Py_ssize_t size) {
    return size == 0 || (size == 1 && value[0] == '-') || (size == 4 && !memcmp(value, "none", 4));
}

/* valid, and (with `clean`) kept by the cleaning */
static int kept(const Column *c, Py_ssize_t row, int clean) {
    if (!is_valid(c, row)) return 0;
    if (!clean) return 1;
    Py_ssize_t size;
    const char *value = value_at(c, row, &size);
    return !dropped(value, size);
}

static PyObject *new_bytes(Py_ssize_t size, char **at) {
    PyObject *b = PyBytes_FromStringAndSize(NULL, size);
    if (b) *at = PyBytes_AS_STRING(b);
    return b;
}

static PyObject *cleaned(PyObject *self, PyObject *args) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &spec)) return NULL;
    Column c;
    if (column_read(spec, &c) < 0) return NULL;
    Py_ssize_t first = -1;
    for (Py_ssize_t row = 0; row < c.length && first < 0; row++)
        if (is_valid(&c, row) && !kept(&c, row, 1)) first = row;
    if (first < 0) {
        column_release(&c);
        Py_RETURN_NONE;
    }
    Py_ssize_t end = c.offset + c.length;
    char *bits;
    PyObject *validity = new_bytes((end + 7) / 8, &bits);
    if (!validity) goto done;
    memset(bits, 0, (end + 7) / 8);
    Py_ssize_t nulls = 0;
    for (Py_ssize_t row = 0; row < c.length; row++) {
        if (kept(&c, row, 1))
            set_bit((uint8_t *)bits, c.offset + row);
        else
            nulls++;
    }
    PyObject *answer = Py_BuildValue("(Nn)", validity, nulls);
    column_release(&c);
    return answer;
done:
    column_release(&c);
    return NULL;
}

/* the columns of a tuple, read and checked; all of one length */
static Column *columns_read(PyObject *specs, Py_ssize_t *count) {
    Py_ssize_t k = PyTuple_GET_SIZE(specs);
    if (k < 1) {
        PyErr_SetString(PyExc_ValueError, "no columns");
        return NULL;
    }
    Column *cols = PyMem_Calloc((size_t)k, sizeof(Column));
    if (!cols) return (Column *)PyErr_NoMemory();
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *spec = PyTuple_GET_ITEM(specs, j);
        int failed = !PyTuple_Check(spec) || column_read(spec, &cols[j]) < 0;
        if (!failed && cols[j].length != cols[0].length) {
            column_release(&cols[j]);
            PyErr_SetString(PyExc_ValueError, "the columns differ in length");
            failed = 1;
        }
        if (failed) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a column is a tuple");
            for (Py_ssize_t i = 0; i < j; i++) column_release(&cols[i]);
            PyMem_Free(cols);
            return NULL;
        }
    }
    *count = k;
    return cols;
}

static void columns_release(Column *cols, Py_ssize_t count) {
    for (Py_ssize_t j = 0; j < count; j++) column_release(&cols[j]);
    PyMem_Free(cols);
}

/* per row, the first column (0..k-1) that gives its value, k for none; and the total size */
static int coalesce_choose(Column *cols, Py_ssize_t k, int clean, uint8_t *chosen,
                           Py_ssize_t *total, Py_ssize_t *nulls) {
    Py_ssize_t n = cols[0].length;
    *total = 0;
    *nulls = 0;
    for (Py_ssize_t row = 0; row < n; row++) {
        Py_ssize_t j = 0;
        while (j < k && !kept(&cols[j], row, clean)) j++;
        chosen[row] = (uint8_t)j;
        if (j == k) {
            (*nulls)++;
            continue;
        }
        *total += offset_at(&cols[j], row + 1) - offset_at(&cols[j], row);
        if (*total > INT32_MAX) return -1;
    }
    return 0;
}

static PyObject *coalesce_write(Column *cols, Py_ssize_t k, const uint8_t *chosen,
                                Py_ssize_t total, Py_ssize_t nulls) {
    Py_ssize_t n = cols[0].length;
    char *offsets_at, *data, *bits = NULL;
    PyObject *offsets = new_bytes((n + 1) * 4, &offsets_at);
    PyObject *values = offsets ? new_bytes(total, &data) : NULL;
    PyObject *validity = Py_None;
    Py_INCREF(Py_None);
    if (values && nulls) {
        Py_DECREF(Py_None);
        validity = new_bytes((n + 7) / 8, &bits);
        if (validity) memset(bits, 0xff, (n + 7) / 8);
    }
    if (!offsets || !values || !validity) {
        Py_XDECREF(offsets);
        Py_XDECREF(values);
        Py_XDECREF(validity);
        return NULL;
    }
    int32_t written = 0;
    memcpy(offsets_at, &written, 4);
    for (Py_ssize_t row = 0; row < n; row++) {
        if (chosen[row] == k) {
            clear_bit((uint8_t *)bits, row);
        } else {
            Py_ssize_t size;
            const char *value = value_at(&cols[chosen[row]], row, &size);
            memcpy(data + written, value, (size_t)size);
            written += (int32_t)size;
        }
        memcpy(offsets_at + (row + 1) * 4, &written, 4);
    }
    return Py_BuildValue("(NNNn)", validity, offsets, values, nulls);
}

static PyObject *coalesced(PyObject *self, PyObject *args) {
    PyObject *specs;
    int clean;
    if (!PyArg_ParseTuple(args, "O!p", &PyTuple_Type, &specs, &clean)) return NULL;
    if (PyTuple_GET_SIZE(specs) > 255) {
        PyErr_SetString(PyExc_ValueError, "at most 255 columns");
        return NULL;
    }
    Py_ssize_t k;
    Column *cols = columns_read(specs, &k);
    if (!cols) return NULL;
    Py_ssize_t n = cols[0].length, total, nulls;
    PyObject *answer = NULL;
    uint8_t *chosen = PyMem_Malloc((size_t)n + 1);
    if (!chosen) {
        PyErr_NoMemory();
    } else if (coalesce_choose(cols, k, clean, chosen, &total, &nulls) < 0) {
        answer = Py_NewRef(Py_None); /* too large for int32 offsets: the kernels' turn */
    } else {
        answer = coalesce_write(cols, k, chosen, total, nulls);
    }
    PyMem_Free(chosen);
    columns_release(cols, k);
    return answer;
}

static PyObject *outcome(PyObject *self, PyObject *args) {
    PyObject *specs;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &specs)) return NULL;
    Py_ssize_t k;
    Column *cols = columns_read(specs, &k);
    if (!cols) return NULL;
    Py_ssize_t n = cols[0].length;
    PyObject *answer = NULL;
    char *offsets_at, *data;
    PyObject *offsets = n > (INT32_MAX - 7) / 7 ? NULL : new_bytes((n + 1) * 4, &offsets_at);
    PyObject *values = offsets ? new_bytes(n * 7, &data) : NULL;
    if (values) {
        for (Py_ssize_t row = 0; row <= n; row++) {
            int32_t at = (int32_t)(row * 7);
            memcpy(offsets_at + row * 4, &at, 4);
        }
        for (Py_ssize_t row = 0; row < n; row++) {
            int failed = 0;
            for (Py_ssize_t j = 0; j < k && !failed; j++) failed = kept(&cols[j], row, 1);
            memcpy(data + row * 7, failed ? "failure" : "success", 7);
        }
        answer = Py_BuildValue("(NN)", offsets, values);
    } else {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_OverflowError, "too many rows");
        Py_XDECREF(offsets);
    }
    columns_release(cols, k);
    return answer;
}

static int digits(const char *s, int count, int *value) {
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 1;
}

static int month_days(int year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

/* days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `YYYY-MM-DDTHH:MM:SSZ` exactly, each part in range: its microseconds since the epoch */
static int event_time(const char *s, Py_ssize_t size, int64_t *micros) {
    int year, month, day, hour, minute, second;
    if (size != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return 0;
    if (!digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day) ||
        !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
        return 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > month_days(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *micros = seconds * 1000000;
    return 1;
}

static PyObject *event_times(PyObject *self, PyObject *args) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &spec)) return NULL;
    Column c;
    if (column_read(spec, &c) < 0) return NULL;
    Py_ssize_t n = c.length, count = 0;
    char *times_at, *bits;
    PyObject *times = new_bytes(n * 8, &times_at);
    PyObject *shaped = times ? new_bytes((n + 7) / 8, &bits) : NULL;
    if (!shaped) {
        Py_XDECREF(times);
        column_release(&c);
        return NULL;
    }
    memset(bits, 0, (n + 7) / 8);
    for (Py_ssize_t row = 0; row < n; row++) {
        int64_t micros = 0;
        Py_ssize_t size;
        const char *value = value_at(&c, row, &size);
        if (is_valid(&c, row) && event_time(value, size, &micros)) {
            set_bit((uint8_t *)bits, row);
            count++;
        }
        memcpy(times_at + row * 8, &micros, 8);
    }
    column_release(&c);
    return Py_BuildValue("(NNn)", times, shaped, count);
}

/* A row's value when its offsets lie in the data; NULL, an error set, when not. */
static const uint8_t *shell_value(const Column *c, Py_ssize_t row, Py_ssize_t *size) {
    int32_t start = offset_at(c, row), stop = offset_at(c, row + 1);
    Py_ssize_t data = c->has_data ? c->data.len : 0;
    if (start < 0 || stop < start || stop > data) {
        PyErr_SetString(PyExc_ValueError, "a column's offsets lie outside its data");
        return NULL;
    }
    *size = stop - start;
    return c->has_data ? (const uint8_t *)c->data.buf + start : (const uint8_t *)"";
}

#ifdef __SSE2__
static int lowest_bit(unsigned mask) {
    int k = 0;
    while (!(mask & 1u)) {
        mask >>= 1;
        k++;
    }
    return k;
}
#endif

/* Whether s[0, n) holds lit[0, m) (m >= 2): the places where its first and last bytes both
 * match, 16 places at a time, then the bytes between them compared. */
static int holds(const uint8_t *s, Py_ssize_t n, const uint8_t *lit, Py_ssize_t m) {
    Py_ssize_t last = n - m; /* the last place it may start at */
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i first = _mm_set1_epi8((char)lit[0]), end = _mm_set1_epi8((char)lit[m - 1]);
    for (; i + 16 <= last + 1; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + m - 1));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, end)));
        for (; mask; mask &= mask - 1)
            if (!memcmp(s + i + lowest_bit(mask) + 1, lit + 1, (size_t)(m - 2))) return 1;
    }
#endif
    for (; i <= last; i++)
        if (s[i] == lit[0] && s[i + m - 1] == lit[m - 1] &&
            !memcmp(s + i + 1, lit + 1, (size_t)(m - 2)))
            return 1;
    return 0;
}

/* Per position, 1 where the row holds the literal; NULL, an error set, at a position outside
 * the column or a row whose offsets lie outside its data. */
static PyObject *holding_rows(const Column *c, const Py_buffer *positions, const Py_buffer *lit) {
    Py_ssize_t n = positions->len / 8;
    char *found;
    PyObject *answer = new_bytes(n, &found);
    for (Py_ssize_t i = 0; answer && i < n; i++) {
        int64_t row;
        memcpy(&row, (const char *)positions->buf + i * 8, 8); /* may be unaligned */
        found[i] = 0;
        if (row < 0 || row >= c->length) {
            PyErr_SetString(PyExc_ValueError, "a position lies outside the column");
            Py_CLEAR(answer);
        } else if (is_valid(c, (Py_ssize_t)row)) {
            Py_ssize_t size;
            const uint8_t *value = shell_value(c, (Py_ssize_t)row, &size);
            if (!value) Py_CLEAR(answer);
            else found[i] = (char)holds(value, size, lit->buf, lit->len);
        }
    }
    return answer;
}

static PyObject *holding(PyObject *self, PyObject *args) {
    PyObject *spec, *answer = NULL;
    Py_buffer positions, literal;
    if (!PyArg_ParseTuple(args, "O!y*y*", &PyTuple_Type, &spec, &positions, &literal))
        return NULL;
    Column c;
    if (literal.len < 2)
        PyErr_SetString(PyExc_ValueError, "the literal is shorter than two bytes");
    else if (positions.len % 8)
        PyErr_SetString(PyExc_ValueError, "the positions are not int64");
    else if (column_shell(spec, &c) == 0) {
        answer = holding_rows(&c, &positions, &literal);
        column_release(&c);
    }
    PyBuffer_Release(&positions);
    PyBuffer_Release(&literal);
    return answer;
}

/* A table of a column's distinct values (each where it first appeared in the data), by hash:
 * open addressing, at most half full, so a lookup ends at an empty slot. */
typedef struct {
    int32_t *slots;        /* a code, or -1 for empty */
    uint64_t *hashes;      /* per slot, its value's hash */
    const uint8_t **texts; /* per code, its value's bytes */
    Py_ssize_t *sizes;     /* per code, its value's size */
    Py_ssize_t mask;       /* slots - 1 (a power of two) */
    Py_ssize_t count;      /* distinct values so far */
    Py_ssize_t room;       /* codes `texts` and `sizes` hold */
} Distinct;

/* The last `size` (< 8) bytes at `p` as one number: a loop, not a `memcpy` of a variable size,
 * which is a call into the C library for a few bytes. */
static uint64_t tail_bytes(const uint8_t *p, Py_ssize_t size) {
    uint64_t t = 0;
    for (Py_ssize_t k = 0; k < size; k++) t |= (uint64_t)p[k] << (8 * k);
    return t;
}

static uint64_t text_hash(const uint8_t *value, Py_ssize_t size) {
    uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)size;
    Py_ssize_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t chunk;
        memcpy(&chunk, value + i, 8);
        h = (h ^ chunk) * 0xBF58476D1CE4E5B9u;
        h ^= h >> 31;
    }
    h = (h ^ tail_bytes(value + i, size - i)) * 0x94D049BB133111EBu;
    return h ^ (h >> 29);
}

/* Whether two texts of `size` bytes are equal, eight bytes at a time. */
static int same_text(const uint8_t *a, const uint8_t *b, Py_ssize_t size) {
    Py_ssize_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return 0;
    }
    return tail_bytes(a + i, size - i) == tail_bytes(b + i, size - i);
}

static int distinct_init(Distinct *d) {
    memset(d, 0, sizeof(*d));
    d->mask = 63;
    d->room = 32;
    d->slots = PyMem_Malloc(64 * sizeof(int32_t));
    d->hashes = PyMem_Malloc(64 * sizeof(uint64_t));
    d->texts = PyMem_Malloc(32 * sizeof(uint8_t *));
    d->sizes = PyMem_Malloc(32 * sizeof(Py_ssize_t));
    if (!d->slots || !d->hashes || !d->texts || !d->sizes) return -1;
    memset(d->slots, 0xff, 64 * sizeof(int32_t));
    return 0;
}

static void distinct_release(Distinct *d) {
    PyMem_Free(d->slots);
    PyMem_Free(d->hashes);
    PyMem_Free((void *)d->texts);
    PyMem_Free(d->sizes);
}

/* Twice the slots, every code put back by its hash. */
static int distinct_grow(Distinct *d) {
    Py_ssize_t slots = (d->mask + 1) * 2;
    int32_t *grown = PyMem_Malloc((size_t)slots * sizeof(int32_t));
    uint64_t *grown_hashes = PyMem_Malloc((size_t)slots * sizeof(uint64_t));
    if (!grown || !grown_hashes) {
        PyMem_Free(grown);
        PyMem_Free(grown_hashes);
        return -1;
    }
    memset(grown, 0xff, (size_t)slots * sizeof(int32_t));
    for (Py_ssize_t i = 0; i <= d->mask; i++) {
        if (d->slots[i] < 0) continue;
        Py_ssize_t at = (Py_ssize_t)(d->hashes[i] & (uint64_t)(slots - 1));
        while (grown[at] >= 0) at = (at + 1) & (slots - 1);
        grown[at] = d->slots[i];
        grown_hashes[at] = d->hashes[i];
    }
    PyMem_Free(d->slots);
    PyMem_Free(d->hashes);
    d->slots = grown;
    d->hashes = grown_hashes;
    d->mask = slots - 1;
    return 0;
}

/* Room for twice the codes. */
static int distinct_more(Distinct *d) {
    size_t room = (size_t)d->room * 2;
    const uint8_t **texts = PyMem_Realloc((void *)d->texts, room * sizeof(uint8_t *));
    if (!texts) return -1;
    d->texts = texts;
    Py_ssize_t *sizes = PyMem_Realloc(d->sizes, room * sizeof(Py_ssize_t));
    if (!sizes) return -1;
    d->sizes = sizes;
    d->room = (Py_ssize_t)room;
    return 0;
}

/* The code of this value, a new one if unseen; -1 when out of memory. */
static int32_t distinct_code(Distinct *d, const uint8_t *value, Py_ssize_t size) {
    uint64_t h = text_hash(value, size);
    Py_ssize_t at = (Py_ssize_t)(h & (uint64_t)d->mask);
    for (; d->slots[at] >= 0; at = (at + 1) & d->mask) {
        int32_t code = d->slots[at];
        if (d->hashes[at] == h && d->sizes[code] == size && same_text(d->texts[code], value, size))
            return code;
    }
    if (d->count == d->room && distinct_more(d) < 0) return -1;
    int32_t code = (int32_t)d->count++;
    d->texts[code] = value;
    d->sizes[code] = size;
    d->slots[at] = code;
    d->hashes[at] = h;
    if (d->count * 2 > d->mask && distinct_grow(d) < 0) return -1;
    return code;
}

/* The codes of a checked column: a row equal to the valid row before it takes its code. */
static PyObject *codes_of(const Column *c) {
    char *out;
    PyObject *answer = new_bytes(c->length * 4, &out);
    if (!answer) return NULL;
    int32_t *codes = (int32_t *)out; /* PyBytes' data is aligned for any type */
    const uint8_t *data = c->has_data ? (const uint8_t *)c->data.buf : (const uint8_t *)"";
    Distinct d;
    if (distinct_init(&d) < 0) goto nomemory;
    const uint8_t *before = NULL; /* the last valid row's value */
    Py_ssize_t before_size = 0;
    int32_t before_code = -1;
    int32_t start = offset_at(c, 0);
    for (Py_ssize_t row = 0; row < c->length; row++) {
        int32_t end = offset_at(c, row + 1);
        const uint8_t *value = data + start;
        Py_ssize_t size = end - start;
        start = end;
        if (!is_valid(c, row)) {
            codes[row] = -1; /* filled with the count below */
            continue;
        }
        if (!before || size != before_size || !same_text(value, before, size)) {
            before_code = distinct_code(&d, value, size);
            if (before_code < 0) goto nomemory;
            before = value;
            before_size = size;
        }
        codes[row] = before_code;
    }
    for (Py_ssize_t row = 0; row < c->length; row++)
        if (codes[row] < 0) codes[row] = (int32_t)d.count;
    distinct_release(&d);
    return Py_BuildValue("(Nn)", answer, d.count);
nomemory:
    distinct_release(&d);
    Py_DECREF(answer);
    return PyErr_NoMemory();
}

static PyObject *codes(PyObject *self, PyObject *args) {
    PyObject *spec, *answer = NULL;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &spec)) return NULL;
    Column c;
    if (column_read(spec, &c) < 0) return NULL;
    if (c.length > INT32_MAX - 1)
        PyErr_SetString(PyExc_ValueError, "a column too long for int32 codes");
    else
        answer = codes_of(&c);
    column_release(&c);
    return answer;
}

static PyMethodDef methods[] = {
    {"cleaned", cleaned, METH_VARARGS, "A column's validity after Elastic's cleaning, or None."},
    {"coalesced", coalesced, METH_VARARGS, "Per row the first value kept, as a new column."},
    {"outcome", outcome, METH_VARARGS, "event.outcome from the error code and message."},
    {"event_times", event_times, METH_VARARGS, "CloudTrail's own event times, and which rows."},
    {"holding", holding, METH_VARARGS, "Per position, whether the row holds a literal."},
    {"codes", codes, METH_VARARGS, "Per row a code for its value, by first appearance."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_columns", "Compiled makers of the columnar step's ECS columns.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__columns(void) { return PyModule_Create(&module); }
