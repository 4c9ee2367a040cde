/* The requests of DynamoDB's batch and transaction calls read by compiled code: per row, the
 * item operations and the tables, exactly as `record_members.read_batch_writes`,
 * `read_batch_gets` and `read_parsed` read them, or a refusal of the whole array.
 *
 * `read(mode, n, offset, validity, offsets, data, positions, others, names, statements)`:
 *   mode 0 BatchWriteItem, 1 BatchGetItem, 2 TransactWriteItems, 3 TransactGetItems;
 *   n rows of a string array starting at `offset` (validity bits or None, int32 offsets, data),
 *   read at `positions` (int64, in any order; None: every row), so that one array taken for
 *   several actions' calls needs no take per action;
 *   `others`: the request keys that name tables but are not read here (each must hold null);
 *   `names`, `statements`: the keys that name a table, or hold PartiQL, inside an item.
 * It answers None when any row holds something it does not read exactly as the Python readers
 * do (a duplicate key that matters, a statement, a table map in a transaction,
 * a number past msgspec's limits, text that is not strict JSON...): the caller then asks them.
 * Refusing is always safe, so every doubt refuses. Otherwise it answers
 *   (ops_validity, ops_offsets, op_offsets, op_text, table_codes, distinct_tables)
 * the operations as the buffers of a list<string> column (null where none), and the tables
 * as a code per row into a list of distinct tuples of names.
 *
 * Hostile text is the normal case: every read is bounds-checked, nesting is capped, and work per
 * key is bounded (a row with more keys or tables than the caps refuses).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_json_number.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Nesting followed; deeper text refuses (`payloads.MAX_DEPTH` cuts at 64: far from here). */
#define MAX_DEPTH 40
/* Keys of one transaction item, and tables of one row, compared pairwise: bounded. */
#define MAX_ITEM_KEYS 32
#define MAX_ROW_TABLES 256

enum { REFUSE = -1, NOMEM = -2 };
enum { BATCH_WRITE = 0, BATCH_GET = 1, TRANSACT_WRITE = 2, TRANSACT_GET = 3 };
/* the operations' codes (`OP_TEXTS` their texts) */
enum { OP_PUT = 0, OP_DELETE, OP_GET, OP_UPDATE, OP_CONDITION_CHECK, OP_COUNT };

#define CHECK(expr)                      \
    do {                                 \
        int rc_ = (expr);                \
        if (rc_ < 0) return rc_;         \
    } while (0)

/* -- growable buffers ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->cap - b->len >= extra) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > PY_SSIZE_T_MAX / 2) return NOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, (size_t)cap);
    if (!p) return NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, Py_ssize_t len) {
    if (len == 0) return 0; /* src may be NULL then: memcpy must not see it */
    CHECK(buf_reserve(b, len));
    memcpy(b->p + b->len, src, (size_t)len);
    b->len += len;
    return 0;
}

static int buf_int32(Buf *b, int32_t v) { return buf_put(b, &v, sizeof v); }

/* -- keys and texts -------------------------------------------------------------------------- */

typedef struct {
    const char *text;
    Py_ssize_t len;
} Key;

typedef struct {
    Key *keys;
    Py_ssize_t n;
} KeyList;

/* Two byte strings alike; either may be NULL when empty (memcmp must not see it then). */
static int same_bytes(const uint8_t *a, Py_ssize_t alen, const uint8_t *b, Py_ssize_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, (size_t)alen) == 0);
}

static int key_is(const uint8_t *s, Py_ssize_t len, const char *key) {
    size_t k = strlen(key);
    return (Py_ssize_t)k == len && memcmp(s, key, k) == 0;
}

static Py_ssize_t key_index(const KeyList *list, const uint8_t *s, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < list->n; i++)
        if (list->keys[i].len == len && memcmp(list->keys[i].text, s, (size_t)len) == 0) return i;
    return -1;
}

/* -- a strict JSON reader -------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
    Buf scratch; /* a string's unescaped bytes */
} Lex;

typedef struct {
    const uint8_t *s; /* the bytes, raw or in `scratch` */
    Py_ssize_t len;
    int escaped;
} Str;

static void skip_ws(Lex *x) {
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static int peek(Lex *x) {
    skip_ws(x);
    return x->p < x->end ? *x->p : -1;
}

static int expect(Lex *x, uint8_t c) {
    if (peek(x) != c) return REFUSE;
    x->p++;
    return 0;
}

static int hex4(const uint8_t *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return REFUSE;
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at p (its first byte >= 0x80), strictly: no overlong forms, no
 * surrogates, nothing past U+10FFFF. Its length, or REFUSE. */
static int utf8_length(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return REFUSE;
    if (end - p < n) return REFUSE;
    if (p[1] < lo || p[1] > hi) return REFUSE;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return REFUSE;
    return n;
}

static int put_code_point(Buf *b, uint32_t cp) {
    uint8_t u[4];
    Py_ssize_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_put(b, u, n);
}

/* An escape after its backslash; `out` (may be NULL) takes the unescaped bytes. A lone
 * surrogate refuses: msgspec refuses it, Python's own reader would keep it. */
static int read_escape(Lex *x, Buf *out) {
    if (x->p >= x->end) return REFUSE;
    uint8_t c = *x->p++;
    uint8_t plain;
    switch (c) {
    case '"': plain = '"'; break;
    case '\\': plain = '\\'; break;
    case '/': plain = '/'; break;
    case 'b': plain = '\b'; break;
    case 'f': plain = '\f'; break;
    case 'n': plain = '\n'; break;
    case 'r': plain = '\r'; break;
    case 't': plain = '\t'; break;
    case 'u': {
        uint32_t cp, low;
        if (x->end - x->p < 4 || hex4(x->p, &cp) < 0) return REFUSE;
        x->p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return REFUSE;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (x->end - x->p < 6 || x->p[0] != '\\' || x->p[1] != 'u') return REFUSE;
            if (hex4(x->p + 2, &low) < 0 || low < 0xDC00 || low > 0xDFFF) return REFUSE;
            x->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        return out ? put_code_point(out, cp) : 0;
    }
    default:
        return REFUSE;
    }
    return out ? buf_put(out, &plain, 1) : 0;
}

/* The bytes from p that need no look (printable ASCII but '"' and '\\'): where they stop. */
static const uint8_t *plain_run(const uint8_t *p, const uint8_t *end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(' ');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: bytes >= 0x80 are negative, so below ' ' too */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                   _mm_cmplt_epi8(v, space));
        int mask = _mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    return p;
}

/* The text of a validated string holding escapes, unescaped into the scratch buffer. */
static int unescape(Lex *x, const uint8_t *p, const uint8_t *stop, Str *s) {
    Buf *out = &x->scratch;
    Lex y = {p, stop, {0}};
    out->len = 0;
    while (y.p < stop) {
        const uint8_t *q = memchr(y.p, '\\', (size_t)(stop - y.p));
        if (!q) q = stop;
        CHECK(buf_put(out, y.p, q - y.p));
        y.p = q;
        if (q < stop) {
            y.p++;
            CHECK(read_escape(&y, out));
        }
    }
    s->s = out->p;
    s->len = out->len;
    return 0;
}

/* A string after its opening quote, validated; `s` (may be NULL) takes its text, unescaped
 * into the scratch buffer only when it holds an escape. */
static int read_string(Lex *x, Str *s) {
    const uint8_t *start = x->p;
    int escaped = 0;
    for (;;) {
        x->p = plain_run(x->p, x->end);
        if (x->p >= x->end) return REFUSE;
        uint8_t c = *x->p;
        if (c == '"') break;
        if (c == '\\') {
            escaped = 1;
            x->p++;
            CHECK(read_escape(x, NULL));
        } else if (c < 0x20) {
            return REFUSE;
        } else {
            int n = utf8_length(x->p, x->end);
            if (n < 0) return REFUSE;
            x->p += n;
        }
    }
    const uint8_t *stop = x->p++;
    if (!s) return 0;
    s->escaped = escaped;
    if (escaped) return unescape(x, start, stop, s);
    s->s = start;
    s->len = stop - start;
    return 0;
}

static int read_number(Lex *x) {
    const uint8_t *p = json_number_end(x->p, x->end);
    if (!p) return REFUSE;
    x->p = p;
    return 0;
}

static int read_literal(Lex *x, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(x->end - x->p) < n || memcmp(x->p, word, n) != 0) return REFUSE;
    x->p += n;
    return 0;
}

static int skip_value(Lex *x, int depth);

/* After an object's or array's opener: whether it closes at once (then consumed). */
static int closes(Lex *x, uint8_t closer) {
    if (peek(x) == closer) {
        x->p++;
        return 1;
    }
    return 0;
}

/* After a member or element: 1 when another follows (its comma consumed), 0 at the closer. */
static int next_member(Lex *x, uint8_t closer) {
    int c = peek(x);
    if (c == ',') {
        x->p++;
        return 1;
    }
    if (c == closer) {
        x->p++;
        return 0;
    }
    return REFUSE;
}

/* An object's key and its colon; `k` takes the key's text. */
static int read_key(Lex *x, Str *k) {
    CHECK(expect(x, '"'));
    CHECK(read_string(x, k));
    return expect(x, ':');
}

static int skip_object(Lex *x, int depth) {
    if (closes(x, '}')) return 0;
    for (;;) {
        CHECK(read_key(x, NULL));
        CHECK(skip_value(x, depth));
        int more = next_member(x, '}');
        CHECK(more);
        if (!more) return 0;
    }
}

static int skip_array(Lex *x, int depth) {
    if (closes(x, ']')) return 0;
    for (;;) {
        CHECK(skip_value(x, depth));
        int more = next_member(x, ']');
        CHECK(more);
        if (!more) return 0;
    }
}

/* Any value, validated; `depth` is its container's level. */
static int skip_value(Lex *x, int depth) {
    int c = peek(x);
    switch (c) {
    case '{':
        if (depth >= MAX_DEPTH) return REFUSE;
        x->p++;
        return skip_object(x, depth + 1);
    case '[':
        if (depth >= MAX_DEPTH) return REFUSE;
        x->p++;
        return skip_array(x, depth + 1);
    case '"':
        x->p++;
        return read_string(x, NULL);
    case 't': return read_literal(x, "true");
    case 'f': return read_literal(x, "false");
    case 'n': return read_literal(x, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return read_number(x);
        return REFUSE;
    }
}

/* A null value (consumed: 1) or something else (left: 0). */
static int take_null(Lex *x) {
    if (peek(x) != 'n') return 0;
    CHECK(read_literal(x, "null"));
    return 1;
}

/* -- what a row says ------------------------------------------------------------------------- */

typedef struct {
    Lex x;
    const KeyList *others, *names, *statements;
    Buf ops;            /* this row's op codes (uint8) */
    Buf names_buf;      /* this row's tables, unescaped, one after another */
    Py_ssize_t starts[MAX_ROW_TABLES + 1];
    Py_ssize_t ntables;
    Buf keys_buf;       /* a batch's table keys, unescaped, for the duplicate test */
    Py_ssize_t key_starts[MAX_ROW_TABLES + 1];
    Py_ssize_t nkeys;
    Buf item_keys;      /* a transaction item's keys, unescaped, for the duplicate test */
} Row;

static int push_op(Row *r, uint8_t op) { return buf_put(&r->ops, &op, 1); }

/* A table named, kept once in order of appearance (`dynamodb._add`: empty names are none). */
static int add_table(Row *r, const uint8_t *s, Py_ssize_t len) {
    if (len == 0) return 0;
    for (Py_ssize_t i = 0; i < r->ntables; i++) {
        Py_ssize_t at = r->starts[i], n = r->starts[i + 1] - at;
        if (n == len && memcmp(r->names_buf.p + at, s, (size_t)len) == 0) return 0;
    }
    if (r->ntables >= MAX_ROW_TABLES) return REFUSE;
    CHECK(buf_put(&r->names_buf, s, len));
    r->starts[++r->ntables] = r->names_buf.len;
    return 0;
}

/* `dynamodb.table_from_arn` of a key starting "arn:": its table, or len 0. */
static void table_of_arn(const uint8_t *s, Py_ssize_t len, const uint8_t **name, Py_ssize_t *n) {
    Py_ssize_t colons[5], found = 0;
    *n = 0;
    for (Py_ssize_t i = 0; i < len && found < 5; i++)
        if (s[i] == ':') colons[found++] = i;
    if (found < 5) return;
    Py_ssize_t service = colons[1] + 1, service_len = colons[2] - service;
    if (!(service_len == 0 || key_is(s + service, service_len, "dynamodb"))) return;
    const uint8_t *rest = s + colons[4] + 1, *end = s + len;
    const uint8_t *slash = memchr(rest, '/', (size_t)(end - rest));
    if (!slash) return; /* kind "table..." alone: no name */
    if (!key_is(rest, slash - rest, "table")) return;
    const uint8_t *start = slash + 1;
    const uint8_t *stop = memchr(start, '/', (size_t)(end - start));
    *name = start;
    *n = (stop ? stop : end) - start;
}

/* A batch's table key (`dynamodb.request_item_tables`), refusing a repeated one. */
static int batch_table(Row *r, const Str *k) {
    Buf *kb = &r->keys_buf;
    for (Py_ssize_t i = 0; i < r->nkeys; i++) {
        Py_ssize_t at = r->key_starts[i], n = r->key_starts[i + 1] - at;
        if (same_bytes(kb->p + at, n, k->s, k->len)) return REFUSE;
    }
    if (r->nkeys >= MAX_ROW_TABLES) return REFUSE;
    CHECK(buf_put(kb, k->s, k->len));
    r->key_starts[++r->nkeys] = kb->len;
    if (k->len >= 4 && memcmp(k->s, "arn:", 4) == 0) {
        const uint8_t *name = NULL;
        Py_ssize_t n;
        table_of_arn(k->s, k->len, &name, &n);
        return n ? add_table(r, name, n) : 0;
    }
    return add_table(r, k->s, k->len);
}

/* A top-level key that names tables and is not read here: it must hold null. */
static int other_key(Row *r, const Str *k, int *known) {
    *known = key_index(r->others, k->s, k->len) >= 0;
    if (!*known) return 0;
    int null = take_null(&r->x);
    CHECK(null);
    return null ? 0 : REFUSE;
}

/* -- BatchWriteItem -------------------------------------------------------------------------- */

static const char *const WRITE_KINDS[] = {"putRequest", "PutRequest", "deleteRequest",
                                          "DeleteRequest"};

/* One item: `{kind: {...} or null, ...}`, one operation per kind held, in the order of
 * `operations.WRITE_REQUESTS`; a put and a delete in one item refuses. */
static int write_item(Row *r) {
    Lex *x = &r->x;
    CHECK(expect(x, '{'));
    unsigned held = 0;
    if (!closes(x, '}')) {
        for (;;) {
            Str k;
            CHECK(read_key(x, &k));
            int kind = -1;
            for (int i = 0; i < 4; i++)
                if (key_is(k.s, k.len, WRITE_KINDS[i])) kind = i;
            if (kind >= 0) {
                int c = peek(x);
                if (c != '{' && c != 'n') return REFUSE;
                held |= 1u << kind;
            }
            CHECK(skip_value(x, 3));
            int more = next_member(x, '}');
            CHECK(more);
            if (!more) break;
        }
    }
    if ((held & 3u) && (held & 12u)) return REFUSE;
    for (int i = 0; i < 4; i++)
        if (held & (1u << i)) CHECK(push_op(r, i < 2 ? OP_PUT : OP_DELETE));
    return 0;
}

static int write_items(Row *r) {
    Lex *x = &r->x;
    CHECK(expect(x, '['));
    if (closes(x, ']')) return 0;
    for (;;) {
        CHECK(write_item(r));
        int more = next_member(x, ']');
        CHECK(more);
        if (!more) return 0;
    }
}

/* -- BatchGetItem ---------------------------------------------------------------------------- */

/* A `keys` list: objects only; its length into `n`, -1 for null. */
static int key_list(Row *r, Py_ssize_t *n) {
    Lex *x = &r->x;
    *n = -1;
    int null = take_null(x);
    CHECK(null);
    if (null) return 0;
    CHECK(expect(x, '['));
    *n = 0;
    if (closes(x, ']')) return 0;
    for (;;) {
        if (peek(x) != '{') return REFUSE;
        CHECK(skip_value(x, 4));
        ++*n;
        int more = next_member(x, ']');
        CHECK(more);
        if (!more) return 0;
    }
}

/* One table's entry: `get`s as `record_members._keys_asked` counts them. */
static int get_entry(Row *r) {
    Lex *x = &r->x;
    CHECK(expect(x, '{'));
    Py_ssize_t lists[2] = {-1, -1};
    int seen[2] = {0, 0};
    if (!closes(x, '}')) {
        for (;;) {
            Str k;
            CHECK(read_key(x, &k));
            int which = key_is(k.s, k.len, "keys") ? 0 : key_is(k.s, k.len, "Keys") ? 1 : -1;
            if (which >= 0) {
                if (seen[which]) return REFUSE;
                seen[which] = 1;
                CHECK(key_list(r, &lists[which]));
            } else {
                CHECK(skip_value(x, 3));
            }
            int more = next_member(x, '}');
            CHECK(more);
            if (!more) break;
        }
    }
    Py_ssize_t count = lists[0] >= 0 ? lists[0] : lists[1] >= 0 ? lists[1] : 1;
    for (Py_ssize_t i = 0; i < count; i++) CHECK(push_op(r, OP_GET));
    return 0;
}

/* -- the batches' shared outline --------------------------------------------------------------- */

/* `{table: items, ...}`: each table's key read, then its items by `per_table`. */
static int table_map(Row *r, int (*per_table)(Row *)) {
    Lex *x = &r->x;
    CHECK(expect(x, '{'));
    if (closes(x, '}')) return 0;
    for (;;) {
        Str k;
        CHECK(read_key(x, &k));
        CHECK(batch_table(r, &k));
        CHECK(per_table(r));
        int more = next_member(x, '}');
        CHECK(more);
        if (!more) return 0;
    }
}

/* `{"requestItems": {...} or null, other keys null, anything else}` or null. */
static int batch_row(Row *r, int (*per_table)(Row *)) {
    Lex *x = &r->x;
    int null = take_null(x);
    CHECK(null);
    if (null) return 0;
    CHECK(expect(x, '{'));
    if (closes(x, '}')) return 0;
    int items_seen = 0;
    for (;;) {
        Str k;
        CHECK(read_key(x, &k));
        int known;
        if (key_is(k.s, k.len, "requestItems")) {
            if (items_seen++) return REFUSE;
            null = take_null(x);
            CHECK(null);
            if (!null) CHECK(table_map(r, per_table));
        } else {
            CHECK(other_key(r, &k, &known));
            if (!known) CHECK(skip_value(x, 1));
        }
        int more = next_member(x, '}');
        CHECK(more);
        if (!more) return 0;
    }
}

/* -- transactions ---------------------------------------------------------------------------- */

/* `operations._TRANSACT`: an item's `operation` value, or a key of the API's shape. */
static const char *const TRANSACT_NAMES[] = {"Put", "Update", "Delete", "ConditionCheck", "put",
                                             "update", "delete", "conditionCheck", "Get", "get"};
static const uint8_t TRANSACT_OPS[] = {OP_PUT,    OP_UPDATE, OP_DELETE, OP_CONDITION_CHECK,
                                       OP_PUT,    OP_UPDATE, OP_DELETE, OP_CONDITION_CHECK,
                                       OP_GET,    OP_GET};
#define TRANSACT_COUNT 10

static int transact_op(const Str *s) {
    for (int i = 0; i < TRANSACT_COUNT; i++)
        if (key_is(s->s, s->len, TRANSACT_NAMES[i])) return i;
    return -1;
}

/* A member holding a table name (`dynamodb._from_item`): a non-empty string is one; a
 * statement's text refuses (PartiQL is read in Python); other values name nothing. `name` takes
 * the key's place among the name keys (-1: none); `read` whether the value was consumed. */
static int named_member(Row *r, const Str *k, int *name, int *read) {
    Lex *x = &r->x;
    *name = (int)key_index(r->names, k->s, k->len);
    *read = 0;
    int statement = key_index(r->statements, k->s, k->len) >= 0;
    if ((*name < 0 && !statement) || peek(x) != '"') return 0;
    if (statement) return REFUSE;
    x->p++;
    *read = 1;
    Str v;
    CHECK(read_string(x, &v));
    return add_table(r, v.s, v.len);
}

/* An object inside an item: its name keys only (a repeated one refuses: the last would win). */
static int inner_object(Row *r, const uint8_t *at) {
    Lex *x = &r->x;
    x->p = at + 1;
    unsigned seen = 0;
    if (closes(x, '}')) return 0;
    for (;;) {
        Str k;
        CHECK(read_key(x, &k));
        int name, read;
        CHECK(named_member(r, &k, &name, &read));
        if (name >= 0) {
            if (name >= 32 || (seen & (1u << name))) return REFUSE;
            seen |= 1u << name;
        }
        if (!read) CHECK(skip_value(x, 5));
        int more = next_member(x, '}');
        CHECK(more);
        if (!more) return 0;
    }
}

/* One item of a transaction's list: its names, its operations (`operations._transact`), then
 * the names in the objects it holds, in order. */
static int transact_item(Row *r, Buf *ops) {
    Lex *x = &r->x;
    if (peek(x) != '{') return skip_value(x, 2);
    x->p++;
    Py_ssize_t ends[MAX_ITEM_KEYS]; /* the item's keys, unescaped, in `item_keys` */
    Buf *held = &r->item_keys;
    held->len = 0;
    const uint8_t *inner[MAX_ITEM_KEYS];
    int nkeys = 0, ninner = 0, operation = -2; /* -2: no string operation */
    uint8_t by_key[MAX_ITEM_KEYS];
    int nby_key = 0;
    if (!closes(x, '}')) {
        for (;;) {
            Str k;
            CHECK(read_key(x, &k));
            if (nkeys >= MAX_ITEM_KEYS) return REFUSE;
            for (int i = 0; i < nkeys; i++) {
                Py_ssize_t at = i ? ends[i - 1] : 0;
                if (same_bytes(held->p + at, ends[i] - at, k.s, k.len))
                    return REFUSE;
            }
            CHECK(buf_put(held, k.s, k.len));
            ends[nkeys++] = held->len;
            int op = transact_op(&k);
            if (op >= 0) by_key[nby_key++] = TRANSACT_OPS[op];
            int c = peek(x);
            if (key_is(k.s, k.len, "operation") && c == '"') {
                x->p++;
                Str v;
                CHECK(read_string(x, &v));
                operation = transact_op(&v);
            } else {
                int name, read;
                CHECK(named_member(r, &k, &name, &read));
                if (!read) {
                    if (c == '{') inner[ninner++] = x->p;
                    CHECK(skip_value(x, 3));
                }
            }
            int more = next_member(x, '}');
            CHECK(more);
            if (!more) break;
        }
    }
    const uint8_t *after = x->p;
    if (operation >= 0) {
        uint8_t op = TRANSACT_OPS[operation];
        CHECK(buf_put(ops, &op, 1));
    } else if (operation == -2) {
        CHECK(buf_put(ops, by_key, nby_key));
    }
    for (int i = 0; i < ninner; i++) CHECK(inner_object(r, inner[i]));
    x->p = after;
    return 0;
}

/* A transaction's item list: its operations into `ops`, its length into `count`. */
static int transact_items(Row *r, Buf *ops, Py_ssize_t *count) {
    Lex *x = &r->x;
    CHECK(expect(x, '['));
    *count = 0;
    if (closes(x, ']')) return 0;
    for (;;) {
        CHECK(transact_item(r, ops));
        ++*count;
        int more = next_member(x, ']');
        CHECK(more);
        if (!more) return 0;
    }
}

static const char *const ITEM_LISTS[] = {"requestItems", "RequestItems", "transactItems",
                                         "TransactItems"};

/* `{"requestItems" or "transactItems": [...] or null, other keys null, anything else}`, or any
 * other value (which names nothing). A table map (`{table: ...}`) refuses. */
static int transact_row(Row *r, int gets) {
    Lex *x = &r->x;
    if (peek(x) != '{') return skip_value(x, 0);
    x->p++;
    Buf ops[4] = {{0}};
    Py_ssize_t counts[4] = {0};
    int present[4] = {0}; /* 0 absent or null, 1 a list */
    int seen[4] = {0};
    int rc = 0;
    if (!closes(x, '}')) {
        for (;;) {
            Str k;
            if ((rc = read_key(x, &k)) < 0) goto done;
            int slot = -1, known, null;
            for (int i = 0; i < 4; i++)
                if (key_is(k.s, k.len, ITEM_LISTS[i])) slot = i;
            if (slot >= 0) {
                if (seen[slot]++) { rc = REFUSE; goto done; }
                if ((null = take_null(x)) < 0) { rc = null; goto done; }
                if (!null) {
                    present[slot] = 1;
                    if ((rc = transact_items(r, &ops[slot], &counts[slot])) < 0) goto done;
                }
            } else {
                if ((rc = other_key(r, &k, &known)) < 0) goto done;
                if (!known && (rc = skip_value(x, 1)) < 0) goto done;
            }
            int more = next_member(x, '}');
            if (more < 0) { rc = more; goto done; }
            if (!more) break;
        }
    }
    {
        /* `_member(request, "requestItems") or _member(request, "transactItems")` */
        int chosen = present[0] ? 0 : present[1] ? 1 : -1;
        if (chosen < 0 || counts[chosen] == 0) chosen = present[2] ? 2 : present[3] ? 3 : -1;
        if (chosen >= 0) {
            if ((rc = buf_put(&r->ops, ops[chosen].p, ops[chosen].len)) < 0) goto done;
            if (gets && r->ops.len == 0)
                for (Py_ssize_t i = 0; i < counts[chosen] && rc == 0; i++) rc = push_op(r, OP_GET);
        }
    }
done:
    for (int i = 0; i < 4; i++) free(ops[i].p);
    return rc;
}

/* -- the whole array ------------------------------------------------------------------------- */

/* The distinct table tuples seen, each row a code into them. */
typedef struct {
    PyObject *tuples; /* list */
    PyObject *index;  /* dict: the row's tables, each framed by its length (bytes) -> code */
    Buf key;
} Distinct;

static int32_t distinct_code(Distinct *d, Row *r) {
    d->key.len = 0;
    for (Py_ssize_t i = 0; i < r->ntables; i++) {
        int32_t n = (int32_t)(r->starts[i + 1] - r->starts[i]);
        if (buf_int32(&d->key, n) < 0 || buf_put(&d->key, r->names_buf.p + r->starts[i], n) < 0)
            return NOMEM;
    }
    PyObject *key = PyBytes_FromStringAndSize((const char *)d->key.p, d->key.len);
    if (!key) return NOMEM;
    PyObject *found = PyDict_GetItemWithError(d->index, key);
    if (found) {
        Py_DECREF(key);
        return (int32_t)PyLong_AsLong(found);
    }
    if (PyErr_Occurred()) goto fail;
    PyObject *names = PyTuple_New(r->ntables);
    if (!names) goto fail;
    for (Py_ssize_t i = 0; i < r->ntables; i++) {
        PyObject *s = PyUnicode_DecodeUTF8((const char *)r->names_buf.p + r->starts[i],
                                           r->starts[i + 1] - r->starts[i], "strict");
        if (!s) {
            Py_DECREF(names);
            goto fail;
        }
        PyTuple_SET_ITEM(names, i, s);
    }
    Py_ssize_t code = PyList_GET_SIZE(d->tuples);
    PyObject *boxed = PyLong_FromSsize_t(code);
    int bad = !boxed || PyList_Append(d->tuples, names) < 0 ||
              PyDict_SetItem(d->index, key, boxed) < 0;
    Py_XDECREF(boxed);
    Py_DECREF(names);
    Py_DECREF(key);
    return bad ? NOMEM : (int32_t)code;
fail:
    Py_DECREF(key);
    return NOMEM;
}

typedef struct {
    Buf validity, offsets;    /* the list column of operations */
    Buf op_offsets, op_text;  /* its string values */
    Buf tables;               /* a code per row into the distinct tuples of tables */
    int32_t ops;              /* values written */
} Out;

/* the operations' texts, by code (`operations.py`'s values) */
static const char *const OP_TEXTS[OP_COUNT] = {"put", "delete", "get", "update",
                                               "condition_check"};

static int read_row(Row *r, int mode) {
    switch (mode) {
    case BATCH_WRITE: return batch_row(r, write_items);
    case BATCH_GET: return batch_row(r, get_entry);
    default: return transact_row(r, mode == TRANSACT_GET);
    }
}

/* One row's text (or none) read and appended to the answer. */
static int one_row(Row *r, Out *o, Distinct *d, int mode, Py_ssize_t i, const uint8_t *text,
                   Py_ssize_t len, int valid) {
    r->ops.len = r->names_buf.len = r->keys_buf.len = 0;
    r->ntables = r->nkeys = 0;
    if (valid) {
        r->x.p = text;
        r->x.end = text + len;
        CHECK(read_row(r, mode));
        if (peek(&r->x) != -1) return REFUSE;
    }
    if (r->ops.len) o->validity.p[i >> 3] |= (uint8_t)(1u << (i & 7));
    for (Py_ssize_t k = 0; k < r->ops.len; k++) {
        const char *text = OP_TEXTS[r->ops.p[k]];
        CHECK(buf_put(&o->op_text, text, (Py_ssize_t)strlen(text)));
        if (o->op_text.len > INT32_MAX || o->ops == INT32_MAX) return REFUSE;
        CHECK(buf_int32(&o->op_offsets, (int32_t)o->op_text.len));
        o->ops++;
    }
    CHECK(buf_int32(&o->offsets, o->ops));
    int32_t code = distinct_code(d, r);
    CHECK(code);
    return buf_int32(&o->tables, code);
}

static int bit(const uint8_t *bits, Py_ssize_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

typedef struct {
    Py_buffer validity, offsets, data, positions;
    int has_validity, has_positions;
} Texts;

static int read_all(Row *r, Out *o, Distinct *d, int mode, Py_ssize_t length, Py_ssize_t offset,
                    const Texts *t) {
    const int32_t *offs = (const int32_t *)t->offsets.buf;
    const uint8_t *data = (const uint8_t *)t->data.buf;
    const int64_t *at = t->has_positions ? (const int64_t *)t->positions.buf : NULL;
    Py_ssize_t n = at ? t->positions.len / (Py_ssize_t)sizeof(int64_t) : length;
    Py_ssize_t noffs = t->offsets.len / (Py_ssize_t)sizeof(int32_t);
    if (offset < 0 || length < 0 || offset + length + 1 > noffs) return REFUSE;
    if (t->has_validity && t->validity.len * 8 < offset + length) return REFUSE;
    CHECK(buf_reserve(&o->validity, (n + 7) / 8 + 1)); /* never NULL, even for no row */
    memset(o->validity.p, 0, (size_t)((n + 7) / 8));
    o->validity.len = (n + 7) / 8;
    CHECK(buf_int32(&o->offsets, 0));
    CHECK(buf_int32(&o->op_offsets, 0));
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t row = at ? at[i] : i;
        if (row < 0 || row >= length) return REFUSE;
        Py_ssize_t j = offset + (Py_ssize_t)row;
        int32_t a = offs[j], b = offs[j + 1];
        if (a < 0 || b < a || b > t->data.len) return REFUSE;
        int valid = !t->has_validity || bit((const uint8_t *)t->validity.buf, j);
        CHECK(one_row(r, o, d, mode, i, data + a, b - a, valid));
    }
    return 0;
}

static int key_list_of(PyObject *seq, KeyList *out) {
    PyObject *fast = PySequence_Fast(seq, "keys must be a sequence of str");
    if (!fast) return NOMEM;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    out->keys = calloc((size_t)(n ? n : 1), sizeof(Key));
    out->n = 0;
    if (!out->keys) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NOMEM;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(fast, i), &len);
        if (!s) {
            Py_DECREF(fast);
            return NOMEM;
        }
        out->keys[out->n++] = (Key){s, len};
    }
    /* the strings live as long as the caller's tuple, which outlives this call */
    Py_DECREF(fast);
    return 0;
}

static PyObject *bytes_of(const Buf *b) {
    return PyBytes_FromStringAndSize((const char *)b->p, b->len);
}

static PyObject *answer(const Out *o, const Distinct *d) {
    PyObject *parts[5] = {bytes_of(&o->validity), bytes_of(&o->offsets), bytes_of(&o->op_offsets),
                          bytes_of(&o->op_text), bytes_of(&o->tables)};
    PyObject *result = NULL;
    if (parts[0] && parts[1] && parts[2] && parts[3] && parts[4])
        result = PyTuple_Pack(6, parts[0], parts[1], parts[2], parts[3], parts[4], d->tuples);
    for (int i = 0; i < 5; i++) Py_XDECREF(parts[i]);
    return result;
}

static PyObject *requests_read(PyObject *self, PyObject *args) {
    int mode;
    Py_ssize_t n, offset;
    PyObject *validity, *offsets_obj, *data_obj, *positions, *others_obj, *names_obj;
    PyObject *statements_obj;
    if (!PyArg_ParseTuple(args, "innOOOOOOO:read", &mode, &n, &offset, &validity, &offsets_obj,
                          &data_obj, &positions, &others_obj, &names_obj, &statements_obj))
        return NULL;
    if (mode < BATCH_WRITE || mode > TRANSACT_GET) {
        PyErr_SetString(PyExc_ValueError, "unknown mode");
        return NULL;
    }
    Texts t = {0};
    KeyList others = {0}, names = {0}, statements = {0};
    Row r = {0};
    Out o = {0};
    Distinct d = {PyList_New(0), PyDict_New(), {0}};
    PyObject *result = NULL;
    int rc = NOMEM;
    if (!d.tuples || !d.index) goto done;
    t.has_validity = validity != Py_None;
    if (t.has_validity && PyObject_GetBuffer(validity, &t.validity, PyBUF_SIMPLE) < 0) {
        t.has_validity = 0;
        goto done;
    }
    t.has_positions = positions != Py_None;
    if (t.has_positions && PyObject_GetBuffer(positions, &t.positions, PyBUF_SIMPLE) < 0) {
        t.has_positions = 0;
        goto done;
    }
    if (PyObject_GetBuffer(offsets_obj, &t.offsets, PyBUF_SIMPLE) < 0) goto done;
    if (PyObject_GetBuffer(data_obj, &t.data, PyBUF_SIMPLE) < 0) goto release_offsets;
    if (key_list_of(others_obj, &others) < 0 || key_list_of(names_obj, &names) < 0 ||
        key_list_of(statements_obj, &statements) < 0)
        goto release_data;
    /* the row's buffers never NULL: a pointer into one is then always well defined */
    if (buf_reserve(&r.x.scratch, 64) < 0 || buf_reserve(&r.ops, 64) < 0 ||
        buf_reserve(&r.names_buf, 64) < 0 || buf_reserve(&r.keys_buf, 64) < 0 ||
        buf_reserve(&r.item_keys, 64) < 0) {
        PyErr_NoMemory();
        goto release_data;
    }
    r.others = &others;
    r.names = &names;
    r.statements = &statements;
    rc = read_all(&r, &o, &d, mode, n, offset, &t);
    if (rc == 0) result = answer(&o, &d);
release_data:
    PyBuffer_Release(&t.data);
release_offsets:
    PyBuffer_Release(&t.offsets);
done:
    if (t.has_validity) PyBuffer_Release(&t.validity);
    if (t.has_positions) PyBuffer_Release(&t.positions);
    free(others.keys);
    free(names.keys);
    free(statements.keys);
    free(r.x.scratch.p);
    free(r.ops.p);
    free(r.names_buf.p);
    free(r.keys_buf.p);
    free(r.item_keys.p);
    free(o.validity.p);
    free(o.offsets.p);
    free(o.op_offsets.p);
    free(o.op_text.p);
    free(o.tables.p);
    free(d.key.p);
    Py_XDECREF(d.tuples);
    Py_XDECREF(d.index);
    if (result) return result;
    if (PyErr_Occurred()) return NULL;
    if (rc == NOMEM) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"read", requests_read, METH_VARARGS,
     "read(mode, n, offset, validity, offsets, data, positions, others, names, statements): "
     "the rows' "
     "operations and tables, or None (see the module's source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "trailhound.cloudtrail._requests",
    "DynamoDB batch and transaction requests read by compiled code.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__requests(void) { return PyModule_Create(&module); }
