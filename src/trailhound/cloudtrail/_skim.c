/* The compiled skimmer: one pass over a `{"Records": [...]}` text that validates it as strictly
 * as `skim_reference.reference_skimmer` does and collects, per record, its span, the string
 * values at a few member paths and the JSON text of the values at a few raw paths, straight
 * into Arrow-shaped buffers.
 *
 * `Skimmer(paths, raw=(), allocate=None)(text)` answers None for every text it cannot read
 * exactly (the caller then reads the file the usual way), else a tuple that `skim.py` turns
 * into a `Skimmed`:
 *   (n, spans: 2n int64, every start then every end,
 *    (validity bits or None, offsets: int32, data, null_count), admitted rows or None)
 * each buffer a bytes object, or what `allocate(size)` gave (a writable buffer).
 * where the last four are the buffers of one string array of n * (len(paths) + len(raw) +
 * len(keyed)) values, the columns one after another, the raw paths' after the text paths', the
 * keyed paths' last.
 *
 * `select`, where given, is (always, provider, action, providers, actions, pairs): the columns
 * read at every record (indexes), the text columns of a record's provider and action (among
 * them), and which records are read in full: those whose provider is one of `providers`, whose
 * action is one of `actions`, or whose (provider, action) is one of `pairs`. The other columns
 * are null at every other record, and the answer's fifth item is those records' numbers (int64,
 * in order; None without `select`): the records a caller picks, their values only copied out.
 *
 * `keyed` holds (path, keys) pairs: such a column says which of `keys` the value at `path`
 * holds as object keys at any depth (after unescaping), in the order of `keys`, joined by ",";
 * null where none (or the value is absent, null or no object or array). It spares a caller
 * reading a member's JSON text again only to find whether some key is in it.
 *
 * Hostile text is the normal case here: every read is bounds-checked, nesting is followed on an
 * explicit stack capped at the record depth the reference allows, and work per key is bounded
 * (a hash probe sequence that grows too long refuses the file rather than slowing down).
 * Texts of 2 GiB or more are refused, so every int32 Arrow offset fits.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "_bits.h"
#include "_json_number.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Nesting a record may have, its own object being level 1 (skim.MAX_DEPTH). */
#define MAX_DEPTH 64
/* A key that needs more probes than this refuses the file: a hash-flooding guard. */
#define MAX_PROBES 128
/* A skimmer keeps its last call's working buffers for the next while they hold no more. */
#define SPARE_BYTES (8 << 20)

enum { K_STR = 1, K_NULL = 2, K_BOOL = 4, K_OBJ = 8, K_ARR = 16, K_NUM = 32, K_ANY = 63 };

/* The members `Record` types, as skim.py lists them (REQUIRED_TEXT, OPTIONAL_TEXT,
 * TEXT_OR_BOOL); a test holds the two lists equal. */
static const char *const REQUIRED_TEXT[] = {"eventTime", "eventName"};
static const char *const OPTIONAL_TEXT[] = {
    "eventVersion", "eventSource", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
    "errorMessage", "requestID", "eventID", "eventType", "eventCategory", "apiVersion",
    "recipientAccountId", "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId"};
static const char *const TEXT_OR_BOOL[] = {"readOnly", "managementEvent",
                                           "sessionCredentialFromConsole"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* -- growable buffers ------------------------------------------------------------------------ */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->cap - b->len >= extra) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) {
        if (cap > PY_SSIZE_T_MAX / 2) return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, (size_t)cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(Buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* -- the tree of members a record's paths and typed members pass through --------------------- */

struct Child { /* a slot of a node's table of children: the hash beside it saves a load */
    uint64_t hash;
    int node; /* -1: empty */
};

typedef struct {
    char *name; /* UTF-8 */
    Py_ssize_t len;
    /* a name of 8 to 16 bytes as its first and last 8: a key is compared with these words
     * without first loading where the name is */
    uint64_t ends[2];
    uint64_t hash;
    uint64_t filter[4]; /* children's names by length and ends: a key not in it is none */
    int kinds;        /* the value kinds allowed here (K_*) */
    int column;       /* the path that ends here, or -1 */
    int raw;          /* that path's column holds the value's JSON text as it stands */
    int keyed;        /* the keys column of the value here (an index into keydefs), or -1 */
    int keyed_under;  /* a keys column's path passes through here */
    int required_bit; /* bit in the record's "seen" mask, or -1 */
    int first_child, next_sibling, nchild;
    int bit; /* its place among its parent's children: its bit in Frame.known */
    struct Child *table; /* children by hash */
    uint32_t mask;
} Node;

/* The keys a keys column looks for: by hash, with a filter as a node's children have. */
typedef struct {
    int column, nkeys;
    char **names;
    Py_ssize_t *lens;
    uint64_t filter[4];
    struct Child *table; /* .node: the key's index, its bit in the column's mask */
    uint32_t mask;
} KeyDef;

/* Texts, or pairs of texts, a record's provider and action are looked up in: by hash. */
typedef struct {
    struct Child *table; /* .node: the entry's index */
    uint32_t mask;
    int n, width;        /* width 2: pairs, names[2i] and names[2i + 1] */
    char **names;
    Py_ssize_t *lens;
} TextSet;

/* Which records have every column read (a `select`), the rest only the `always` ones. */
typedef struct {
    unsigned char *always; /* per column */
    int provider, action;  /* text columns, always read */
    TextSet providers, actions, pairs;
} Gate;

typedef struct {
    PyObject_HEAD
    Node *nodes;
    int nnodes, ncols, nkeyed, ntext; /* ntext: the text paths' columns, the first ones */
    KeyDef *keydefs;
    unsigned required_mask;
    uint64_t seed;
    PyObject *allocate; /* size -> a writable buffer for the answer's arrays, or NULL: bytes */
    struct Ctx *spare;  /* the last call's buffers, kept for the next (see ctx_take) */
    Gate *gate;         /* NULL: every column at every record */
} SkimmerObject;

static inline uint64_t load64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t mix(uint64_t a, uint64_t b) {
    a *= 0xff51afd7ed558ccdull;
    b *= 0xc4ceb9fe1a85ec53ull;
    a ^= b;
    /* tables index by the low bits, which a product leaves to the inputs' low bytes alone
     * ("eventTime", "eventName"): fold the high half down and mix once more */
    a ^= a >> 32;
    a *= 0x9E3779B97F4A7C15ull;
    return a ^ (a >> 29);
}

/* Member names are short: up to 16 bytes take two overlapping loads and two independent
 * multiplications, not a chain of them; the caller compares bytes whenever hashes meet. */
static inline uint64_t hash_bytes(uint64_t seed, const uint8_t *p, size_t n) {
    uint64_t a, b;
    if (n >= 8) {
        a = load64(p);
        b = load64(p + n - 8);
        for (size_t i = 8; i + 8 < n; i += 8) a = mix(a ^ seed, load64(p + i));
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        a = x;
        b = y;
    } else {
        a = n ? (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16 : 0;
        b = 0;
    }
    return mix(a ^ seed, b ^ (seed >> 7) ^ n);
}

/* Equal bytes, inline: names are short and a libc call per member would cost more. */
static inline int same_bytes(const char *a, const uint8_t *b, Py_ssize_t n) {
    const uint8_t *x = (const uint8_t *)a;
    if (n >= 8 && n <= 16) /* most names: two words, no loop whose exit mispredicts */
        return ((load64(x) ^ load64(b)) | (load64(x + n - 8) ^ load64(b + n - 8))) == 0;
    if (n >= 8) { /* whole words, the last one overlapping the one before */
        for (Py_ssize_t i = 0; i + 8 < n; i += 8)
            if (load64(x + i) != load64(b + i)) return 0;
        return load64(x + n - 8) == load64(b + n - 8);
    }
    if (n >= 4) {
        uint32_t x0, x1, b0, b1;
        memcpy(&x0, x, 4);
        memcpy(&x1, x + n - 4, 4);
        memcpy(&b0, b, 4);
        memcpy(&b1, b + n - 4, 4);
        return x0 == b0 && x1 == b1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (x[i] != b[i]) return 0;
    return 1;
}

/* Whether node g is named k. */
static inline int name_is(const Node *g, const uint8_t *k, Py_ssize_t len) {
    if (g->len != len) return 0;
    if (len >= 8 && len <= 16)
        return ((load64(k) ^ g->ends[0]) | (load64(k + len - 8) ^ g->ends[1])) == 0;
    return same_bytes(g->name, k, len);
}

/* -- parsing state ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    uint32_t gen;
    uint32_t in_arena;
    Py_ssize_t off, len;
} Slot;

/* Keys a wanted object holds that are not wanted: compared with each other while few, then
 * moved to a hash set. */
#define FEW 8
/* Which wanted member came after each one last time in the file (and which came first in
 * each wanted object): records repeat their order, so most keys are found by one comparison. */

typedef struct {
    Py_ssize_t off, len;
    int in_arena;
} Few;

typedef struct { /* the keys seen so far in one open object whose keys must be unique */
    Slot *slots;
    uint32_t cap, count, gen;
    int hashed, nfew, last; /* last: the last wanted member seen in the object, or -1 */
    Few few[FEW];
} KeySet;

typedef struct Ctx {
    const uint8_t *base, *end;
    const SkimmerObject *sk;
    Buf starts, ends, arena;
    Buf *data, *offsets, *valid;
    Py_ssize_t *nonnull;
    Py_ssize_t n;
    KeySet sets[MAX_DEPTH];
    uint32_t gen;
    int *guess; /* 2 * nnodes: the child after child i at i, the first of node i at nnodes+i */
    /* with a gate: whether the open record is read in full (-1: not known yet, its values
     * other than the always read ones held back in `held` until it is), what of its provider
     * and action was seen (bits 1, 2) and where their text lies in their columns' data */
    int admit, nheld;
    unsigned got;
    Py_ssize_t got_at[2], got_len[2];
    struct Held *held; /* room for a value of every column: a record has one at most */
    Buf picks;
} Ctx;

/* A value held back until its record is known to be read in full. */
typedef struct Held {
    const uint8_t *s, *e; /* a value's bytes (see column_value) */
    uint64_t found;       /* a keys column's keys */
    int col, escaped, keydef; /* keydef >= 0: a keys column's value */
} Held;

typedef struct {
    int is_obj;
    int node;       /* -1: an object nobody reads, or an array */
    uint64_t known; /* the wanted members seen so far, by Node.bit */
    int raw;        /* the raw column this object or array is the value of, or -1 */
    const uint8_t *opened; /* its "{" or "[" */
    int keydef;     /* the keys column this object or array is the value of, or -1 */
    int keys_at;    /* the depth of the frame whose keys column takes this one's keys, or -1 */
    uint64_t found; /* at a keys column's own frame: the keys found so far, by index */
} Frame;

#define REFUSE 0
#define OK 1
#define NOMEM (-1)

#define CHECK(expr)                   \
    do {                              \
        int r_ = (expr);              \
        if (r_ != OK) return r_;      \
    } while (0)

static inline const uint8_t *skip_space(const uint8_t *p, const uint8_t *end) {
    if (p < end && *p > ' ') return p; /* the usual case: no blank space at all */
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static int hex4(const uint8_t *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, or 0 (Unicode's Table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_sequence(const uint8_t *p, const uint8_t *end) {
    Py_ssize_t room = end - p;
    uint8_t c = p[0];
    if (c >= 0xC2 && c <= 0xDF) return room >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (room < 3 || (p[2] & 0xC0) != 0x80) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        return p[1] >= lo && p[1] <= hi ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (room < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        return p[1] >= lo && p[1] <= hi ? 4 : 0;
    }
    return 0;
}

/* p is just past a string's opening quote: the closing quote, or NULL when the string is not
 * valid JSON text (bad escape, lone surrogate, control character, invalid UTF-8, no end).
 * *escaped tells whether the string's text differs from its bytes. */
static inline const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, int *escaped) {
    for (;;) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(' ');
        for (;;) {
            if (end - p < 16) goto scalar;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            /* signed compare: bytes >= 0x80 are negative, so below ' ' too */
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                    _mm_cmpeq_epi8(v, slash)),
                                       _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(hit);
            if (mask) {
                p += FIRST_BIT(mask);
                goto special;
            }
            p += 16;
        }
    scalar:
#endif
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p >= end) return NULL;
#ifdef __SSE2__
    special:
#endif
        if (*p == '"') return p;
        if (*p == '\\') {
            *escaped = 1;
            if (end - p < 2) return NULL;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u': {
                if (end - p < 6) return NULL;
                int u = hex4(p + 2);
                if (u < 0) return NULL;
                p += 6;
                if (u >= 0xDC00 && u <= 0xDFFF) return NULL;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return NULL;
                    int low = hex4(p + 2);
                    if (low < 0xDC00 || low > 0xDFFF) return NULL;
                    p += 6;
                }
                break;
            }
            default:
                return NULL;
            }
            continue;
        }
        if (*p < 0x20) return NULL;
        int n = utf8_sequence(p, end);
        if (!n) return NULL;
        p += n;
    }
}

/* Appends the text of a validated string body [s, e) with escapes to b (never longer than the
 * body: an escape is at least as long as what it stands for). */
static int unescape(Buf *b, const uint8_t *s, const uint8_t *e) {
    if (buf_reserve(b, e - s) < 0) return NOMEM;
    uint8_t *out = (uint8_t *)b->p + b->len;
    while (s < e) {
        const uint8_t *bs = memchr(s, '\\', (size_t)(e - s));
        const uint8_t *stop = bs ? bs : e;
        memcpy(out, s, (size_t)(stop - s));
        out += stop - s;
        s = stop;
        if (!bs) break;
        uint32_t u;
        switch (s[1]) {
        case 'b': *out++ = '\b'; s += 2; continue;
        case 'f': *out++ = '\f'; s += 2; continue;
        case 'n': *out++ = '\n'; s += 2; continue;
        case 'r': *out++ = '\r'; s += 2; continue;
        case 't': *out++ = '\t'; s += 2; continue;
        case 'u':
            u = (uint32_t)hex4(s + 2);
            s += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + ((uint32_t)hex4(s + 2) - 0xDC00);
                s += 6;
            }
            break;
        default: *out++ = s[1]; s += 2; continue; /* " \ / */
        }
        if (u < 0x80) {
            *out++ = (uint8_t)u;
        } else if (u < 0x800) {
            *out++ = (uint8_t)(0xC0 | (u >> 6));
            *out++ = (uint8_t)(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
            *out++ = (uint8_t)(0xE0 | (u >> 12));
            *out++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
            *out++ = (uint8_t)(0x80 | (u & 0x3F));
        } else {
            *out++ = (uint8_t)(0xF0 | (u >> 18));
            *out++ = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
            *out++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
            *out++ = (uint8_t)(0x80 | (u & 0x3F));
        }
    }
    b->len = (Py_ssize_t)((char *)out - b->p);
    return OK;
}

static const uint8_t *key_bytes(const Ctx *c, const Slot *s) {
    return s->in_arena ? (const uint8_t *)c->arena.p + s->off : c->base + s->off;
}

static void keyset_open(Ctx *c, int depth) {
    KeySet *ks = &c->sets[depth];
    ks->hashed = ks->nfew = 0;
    ks->last = -1;
}

static int keyset_grow(KeySet *ks) {
    if (ks->cap > UINT32_MAX / 4) return REFUSE;
    uint32_t cap = ks->cap * 2, mask = cap - 1;
    Slot *slots = calloc(cap, sizeof(Slot));
    if (!slots) return NOMEM;
    for (uint32_t i = 0; i < ks->cap; i++) {
        Slot *s = &ks->slots[i];
        if (s->gen != ks->gen) continue;
        uint32_t j = (uint32_t)s->hash & mask;
        while (slots[j].gen == ks->gen) j = (j + 1) & mask;
        slots[j] = *s;
    }
    free(ks->slots);
    ks->slots = slots;
    ks->cap = cap;
    return OK;
}

/* Enters a key in its object's set: REFUSE when it is there already (or probing runs long). */
static int keyset_add(Ctx *c, KeySet *ks, uint64_t h, const uint8_t *k, Py_ssize_t len,
                      int in_arena) {
    if ((ks->count + 1) * 2 > ks->cap) {
        int r = keyset_grow(ks);
        if (r != OK) return r;
    }
    uint32_t mask = ks->cap - 1, j = (uint32_t)h & mask;
    for (int probes = 0; ks->slots[j].gen == ks->gen; probes++) {
        Slot *s = &ks->slots[j];
        if (probes > MAX_PROBES) return REFUSE;
        if (s->hash == h && s->len == len && same_bytes((const char *)key_bytes(c, s), k, len))
            return REFUSE;
        j = (j + 1) & mask;
    }
    Slot *s = &ks->slots[j];
    s->hash = h;
    s->gen = ks->gen;
    s->len = len;
    s->in_arena = (uint32_t)in_arena;
    s->off = in_arena ? (Py_ssize_t)(k - (const uint8_t *)c->arena.p) : (Py_ssize_t)(k - c->base);
    ks->count++;
    return OK;
}

static int find_child(const SkimmerObject *sk, const Node *n, uint64_t h, const uint8_t *k,
                      Py_ssize_t len) {
    if (!n->table) return -1;
    for (uint32_t j = (uint32_t)h & n->mask;; j = (j + 1) & n->mask) {
        const struct Child *slot = &n->table[j];
        if (slot->node < 0) return -1;
        if (slot->hash != h) continue;
        if (name_is(&sk->nodes[slot->node], k, len)) return slot->node;
    }
}

static const uint8_t *few_bytes(const Ctx *c, const Few *f) {
    return f->in_arena ? (const uint8_t *)c->arena.p + f->off : c->base + f->off;
}

/* From comparing the few keys to the hash set: entered there, they are compared by hash. */
static int keyset_hash(Ctx *c, KeySet *ks) {
    if (!ks->slots) {
        ks->slots = calloc(32, sizeof(Slot));
        if (!ks->slots) return NOMEM;
        ks->cap = 32;
    }
    ks->gen = ++c->gen;
    ks->count = 0;
    ks->hashed = 1;
    for (int i = 0; i < ks->nfew; i++) {
        const Few *f = &ks->few[i];
        const uint8_t *k = few_bytes(c, f);
        CHECK(keyset_add(c, ks, hash_bytes(c->sk->seed, k, (size_t)f->len), k, f->len,
                         f->in_arena));
    }
    return OK;
}

/* Enters a key that no path wants (or of an object with too many wanted ones): REFUSE when
 * the object holds it already. */
static int other_key(Ctx *c, KeySet *ks, const uint8_t *k, Py_ssize_t len, int in_arena) {
    if (!ks->hashed) {
        for (int i = 0; i < ks->nfew; i++) {
            const Few *f = &ks->few[i];
            if (f->len == len && same_bytes((const char *)few_bytes(c, f), k, len)) return REFUSE;
        }
        if (ks->nfew < FEW) {
            Few *f = &ks->few[ks->nfew++];
            f->len = len;
            f->in_arena = in_arena;
            f->off = in_arena ? (Py_ssize_t)(k - (const uint8_t *)c->arena.p)
                              : (Py_ssize_t)(k - c->base);
            return OK;
        }
        CHECK(keyset_hash(c, ks));
    }
    return keyset_add(c, ks, hash_bytes(c->sk->seed, k, (size_t)len), k, len, in_arena);
}

static inline unsigned filter_bit(const uint8_t *k, Py_ssize_t len) {
    return len ? (unsigned)(len * 31 + k[0] + k[len - 1] * 7) & 255u : 0u;
}

/* The child of node named k, or -1: by the guess from the last wanted member, else by the
 * filter and the hash table. */
static int wanted(Ctx *c, int node, KeySet *ks, const uint8_t *k, Py_ssize_t len) {
    const SkimmerObject *sk = c->sk;
    const Node *n = &sk->nodes[node];
    int *guess = &c->guess[ks->last >= 0 ? ks->last : sk->nnodes + node];
    int child = *guess;
    if (child >= 0) {
        if (name_is(&sk->nodes[child], k, len)) {
            ks->last = child;
            return child;
        }
    }
    unsigned bit = filter_bit(k, len);
    if (!(n->filter[bit >> 6] >> (bit & 63) & 1)) return -1;
    child = find_child(sk, n, hash_bytes(sk->seed, k, (size_t)len), k, len);
    if (child >= 0) {
        *guess = child;
        ks->last = child;
    }
    return child;
}


/* Writes column col's offsets up to record `upto`'s start (and leaves room for one more): a
 * column's offsets are written when it gets a value, not at every record's end, since most
 * columns are absent from most records and a loop over all of them per record cost a tenth of
 * the pass. Records since its last value end where that value did. */
static int offsets_upto(Ctx *c, int col, Py_ssize_t upto) {
    Buf *o = &c->offsets[col];
    Py_ssize_t have = o->len / 4; /* offsets 0 .. have-1 are written */
    if (buf_reserve(o, 4 * (upto + 2 - have)) < 0) return NOMEM;
    int32_t off = (int32_t)c->data[col].len;
    for (Py_ssize_t r = have; r <= upto; r++) memcpy(o->p + 4 * r, &off, 4);
    if (upto + 1 > have) o->len = 4 * (upto + 1);
    return OK;
}

/* Ends the value of column col at the current record that its data now holds. */
static int value_end(Ctx *c, int col) {
    Buf *d = &c->data[col];
    if (d->len > INT32_MAX) return REFUSE;
    Buf *o = &c->offsets[col]; /* offsets_upto left room for this record's end */
    int32_t off = (int32_t)d->len;
    memcpy(o->p + o->len, &off, 4);
    o->len += 4;
    c->valid[col].p[c->n >> 3] |= (char)(1u << (c->n & 7));
    c->nonnull[col]++;
    return OK;
}

/* Writes a value of column col: the text of the string body [s, e), or with `escaped` < 0 the
 * bytes [s, e) as they stand (a raw path's JSON text). */
static int column_write(Ctx *c, int col, const uint8_t *s, const uint8_t *e, int escaped) {
    Buf *d = &c->data[col];
    if (offsets_upto(c, col, c->n) != OK) return NOMEM;
    if (escaped > 0) {
        if (unescape(d, s, e) < 0) return NOMEM;
    } else {
        if (buf_reserve(d, e - s) < 0) return NOMEM;
        memcpy(d->p + d->len, s, (size_t)(e - s));
        d->len += e - s;
    }
    return value_end(c, col);
}

/* Writes a keys column's value: the keys of `found` (a mask by index) in order, joined by ",". */
static int keys_write(Ctx *c, const KeyDef *def, uint64_t found) {
    Buf *d = &c->data[def->column];
    if (offsets_upto(c, def->column, c->n) != OK) return NOMEM;
    for (int i = 0; i < def->nkeys; i++) {
        if (!(found >> i & 1)) continue;
        int comma = (found & ((1ull << i) - 1)) != 0; /* a key before this one */
        if (buf_reserve(d, def->lens[i] + 1) < 0) return NOMEM;
        if (comma) d->p[d->len++] = ',';
        memcpy(d->p + d->len, def->names[i], (size_t)def->lens[i]);
        d->len += def->lens[i];
    }
    return value_end(c, def->column);
}

/* Whether the open record is read in full, from its provider and action (either may be
 * absent or null). */
static int admitted(const Ctx *c);

/* Holds a value back until its record is known to be read in full: in room made beforehand,
 * since this happens to a dozen values of every record. */
static inline int hold(Ctx *c, const uint8_t *s, const uint8_t *e, uint64_t found, int col,
                       int escaped, int keydef) {
    /* never full: a duplicate key is refused before its value */
    if (c->nheld > c->sk->ncols) return REFUSE;
    Held *v = &c->held[c->nheld++];
    v->s = s;
    v->e = e;
    v->found = found;
    v->col = col;
    v->escaped = escaped;
    v->keydef = keydef;
    return OK;
}

/* Decides whether the open record is read in full: if so, notes its number and writes the
 * values held back; else they are dropped, and its other columns stay null. */
static int decide(Ctx *c) {
    c->admit = admitted(c);
    if (c->admit) {
        if (buf_reserve(&c->picks, 8) < 0) return NOMEM;
        int64_t row = (int64_t)c->n;
        memcpy(c->picks.p + c->picks.len, &row, 8);
        c->picks.len += 8;
        for (int i = 0; i < c->nheld; i++) {
            const Held *v = &c->held[i];
            if (v->keydef >= 0) CHECK(keys_write(c, &c->sk->keydefs[v->keydef], v->found));
            else CHECK(column_write(c, v->col, v->s, v->e, v->escaped));
        }
    }
    c->nheld = 0;
    return OK;
}

/* A value of column col, as `column_write` takes it: written, held back, or dropped, as the
 * gate has it. */
static inline int column_value(Ctx *c, int col, const uint8_t *s, const uint8_t *e,
                               int escaped) {
    const Gate *g = c->sk->gate;
    if (!g || c->admit > 0) return column_write(c, col, s, e, escaped);
    if (!g->always[col]) return c->admit == 0 ? OK : hold(c, s, e, 0, col, escaped, -1);
    Py_ssize_t at = c->data[col].len;
    CHECK(column_write(c, col, s, e, escaped));
    if (c->admit < 0 && (col == g->provider || col == g->action)) {
        int which = col == g->provider ? 0 : 1;
        c->got |= 1u << which;
        c->got_at[which] = at;
        c->got_len[which] = c->data[col].len - at;
        if (c->got == 3) return decide(c);
    }
    return OK;
}

/* A keys column's value, as `keys_write` takes it, gated as `column_value` is. */
static int keys_value(Ctx *c, const KeyDef *def, uint64_t found) {
    const Gate *g = c->sk->gate;
    if (!g || g->always[def->column] || c->admit > 0) return keys_write(c, def, found);
    if (c->admit == 0) return OK;
    return hold(c, NULL, NULL, found, def->column, 0, (int)(def - c->sk->keydefs));
}

/* A hash of a text, or of a pair of texts (b NULL: of a alone). */
static inline uint64_t text_hash(uint64_t seed, const uint8_t *a, Py_ssize_t alen,
                                 const uint8_t *b, Py_ssize_t blen) {
    uint64_t h = hash_bytes(seed, a, (size_t)alen);
    return b ? mix(h, hash_bytes(~seed, b, (size_t)blen)) : h;
}

/* Whether the set holds a (or the pair a, b). */
static int text_in(uint64_t seed, const TextSet *t, const uint8_t *a, Py_ssize_t alen,
                   const uint8_t *b, Py_ssize_t blen) {
    if (!t->n) return 0;
    uint64_t h = text_hash(seed, a, alen, b, blen);
    for (uint32_t j = (uint32_t)h & t->mask;; j = (j + 1) & t->mask) {
        const struct Child *slot = &t->table[j];
        if (slot->node < 0) return 0;
        if (slot->hash != h) continue;
        int i = slot->node * t->width;
        if (t->lens[i] != alen || !same_bytes(t->names[i], a, alen)) continue;
        if (b && (t->lens[i + 1] != blen || !same_bytes(t->names[i + 1], b, blen))) continue;
        return 1;
    }
}

static int admitted(const Ctx *c) {
    const SkimmerObject *sk = c->sk;
    const Gate *g = sk->gate;
    const uint8_t *p = c->got & 1 ? (const uint8_t *)c->data[g->provider].p + c->got_at[0] : NULL;
    const uint8_t *a = c->got & 2 ? (const uint8_t *)c->data[g->action].p + c->got_at[1] : NULL;
    Py_ssize_t plen = c->got_len[0], alen = c->got_len[1];
    return (p && text_in(sk->seed, &g->providers, p, plen, NULL, 0)) ||
           (a && text_in(sk->seed, &g->actions, a, alen, NULL, 0)) ||
           (p && a && text_in(sk->seed, &g->pairs, p, plen, a, alen));
}

/* Notes key k in the mask of the keys column whose frame is f, when it is one of its keys. */
static inline void note_key(const SkimmerObject *sk, Frame *f, const uint8_t *k, Py_ssize_t len) {
    const KeyDef *def = &sk->keydefs[f->keydef];
    unsigned bit = filter_bit(k, len);
    if (!(def->filter[bit >> 6] >> (bit & 63) & 1)) return;
    uint64_t h = hash_bytes(sk->seed, k, (size_t)len);
    for (uint32_t j = (uint32_t)h & def->mask;; j = (j + 1) & def->mask) {
        const struct Child *slot = &def->table[j];
        if (slot->node < 0) return;
        int i = slot->node;
        if (slot->hash == h && def->lens[i] == len && same_bytes(def->names[i], k, len)) {
            f->found |= 1ull << i;
            return;
        }
    }
}

/* Opens a record: grows each column's validity by a zeroed byte every 8 records. */
static int record_begin(Ctx *c) {
    c->arena.len = 0;
    c->admit = c->sk->gate ? -1 : 1;
    c->got = 0;
    c->nheld = 0;
    if ((c->n & 7) == 0) {
        for (int i = 0; i < c->sk->ncols; i++) {
            if (buf_reserve(&c->valid[i], 1) < 0) return NOMEM;
            c->valid[i].p[c->valid[i].len++] = 0;
        }
    }
    return OK;
}

static int record_end(Ctx *c) {
    if (c->admit < 0) CHECK(decide(c)); /* a provider or action absent or null */
    c->n++; /* the columns' offsets catch up when read (offsets_upto) */
    return OK;
}


/* The keys column an object or array opened at `depth` as the value of node n (NULL: of no
 * node) collects its keys in: its own when it is a keys column's value, else its parent's. */
static inline void opened_keys(Frame *st, int depth, const Node *n) {
    Frame *f = &st[depth];
    f->keydef = n ? n->keyed : -1;
    f->found = 0;
    f->keys_at = f->keydef >= 0 ? depth : st[depth - 1].keys_at;
}

/* One record from its "{" at *pp; on OK, *pp is just past its "}". */
static int parse_record(Ctx *c, const uint8_t **pp) {
    const SkimmerObject *sk = c->sk;
    const uint8_t *p = *pp + 1, *end = c->end;
    Frame st[MAX_DEPTH];
    int depth = 0, child = -1;
    unsigned seen = 0;
    CHECK(record_begin(c));
    st[0].is_obj = 1;
    st[0].node = 0;
    st[0].known = 0;
    st[0].raw = -1;
    st[0].keydef = st[0].keys_at = -1;
    keyset_open(c, 0);

object_first:
    p = skip_space(p, end);
    if (p < end && *p == '}') {
        p++;
        goto close;
    }
    goto key;
object_next:
    p = skip_space(p, end);
key:
    if (p >= end || *p != '"') return REFUSE;
    {
        int escaped = 0;
        const uint8_t *s = p + 1, *q = scan_string(s, end, &escaped);
        if (!q) return REFUSE;
        child = -1;
        int node = st[depth].node, keys_at = st[depth].keys_at;
        if (node >= 0 || keys_at >= 0) {
            const uint8_t *k = s;
            Py_ssize_t len = q - s;
            if (escaped) {
                Py_ssize_t at = c->arena.len;
                if (unescape(&c->arena, s, q) < 0) return NOMEM;
                k = (const uint8_t *)c->arena.p + at;
                len = c->arena.len - at;
            }
            /* a keys column's frame takes every key within its value, at any depth */
            if (keys_at >= 0) note_key(sk, &st[keys_at], k, len);
            if (node >= 0) {
                KeySet *ks = &c->sets[depth];
                child = wanted(c, node, ks, k, len);
                /* a wanted member's second time shows in a bit; other keys go to the key set */
                if (child >= 0 && sk->nodes[node].nchild <= 64) {
                    uint64_t bit = 1ull << sk->nodes[child].bit;
                    if (st[depth].known & bit) return REFUSE;
                    st[depth].known |= bit;
                } else {
                    CHECK(other_key(c, ks, k, len, escaped));
                }
            }
        }
        p = skip_space(q + 1, end);
        if (p >= end || *p != ':') return REFUSE;
        p = skip_space(p + 1, end);
    }
    goto value;
array_first:
    p = skip_space(p, end);
    if (p < end && *p == ']') {
        p++;
        goto close;
    }
    child = -1;
    goto value;
array_next:
    p = skip_space(p, end);
    child = -1;

value:
    if (p >= end) return REFUSE;
    {
        const Node *n = child >= 0 ? &sk->nodes[child] : NULL;
        int kinds = n ? n->kinds : K_ANY;
        /* the raw column this value goes to whole, once its end is known */
        int raw = n && n->raw ? n->column : -1;
        const uint8_t *v = p;
        switch (*p) {
        case '"': {
            if (!(kinds & K_STR)) return REFUSE;
            int escaped = 0;
            const uint8_t *s = p + 1, *q = scan_string(s, end, &escaped);
            if (!q) return REFUSE;
            if (raw >= 0) CHECK(column_value(c, raw, v, q + 1, -1));
            else if (n && n->column >= 0) CHECK(column_value(c, n->column, s, q, escaped));
            if (n && n->required_bit >= 0) seen |= 1u << n->required_bit;
            p = q + 1;
            goto after_value;
        }
        case '{':
            if (!(kinds & K_OBJ) || depth + 1 >= MAX_DEPTH) return REFUSE;
            depth++;
            st[depth].is_obj = 1;
            st[depth].node = n && n->nchild ? child : -1;
            st[depth].known = 0;
            st[depth].raw = raw;
            st[depth].opened = v;
            opened_keys(st, depth, n);
            if (st[depth].node >= 0) keyset_open(c, depth);
            p++;
            goto object_first;
        case '[':
            if (!(kinds & K_ARR) || depth + 1 >= MAX_DEPTH) return REFUSE;
            depth++;
            st[depth].is_obj = 0;
            st[depth].node = -1;
            st[depth].raw = raw;
            st[depth].opened = v;
            opened_keys(st, depth, n);
            p++;
            goto array_first;
        case 't':
            if (!(kinds & K_BOOL) || end - p < 4 || memcmp(p, "true", 4) != 0) return REFUSE;
            p += 4;
            break;
        case 'f':
            if (!(kinds & K_BOOL) || end - p < 5 || memcmp(p, "false", 5) != 0) return REFUSE;
            p += 5;
            break;
        case 'n':
            if (!(kinds & K_NULL) || end - p < 4 || memcmp(p, "null", 4) != 0) return REFUSE;
            p += 4;
            goto after_value; /* null: the column's value is null */
        default:
            if (!(kinds & K_NUM)) return REFUSE;
            p = json_number_end(p, end);
            if (!p) return REFUSE;
        }
        if (raw >= 0) CHECK(column_value(c, raw, v, p, -1)); /* true, false, a number */
    }
after_value:
    p = skip_space(p, end);
    if (p >= end) return REFUSE;
    if (st[depth].is_obj) {
        if (*p == ',') {
            p++;
            goto object_next;
        }
        if (*p != '}') return REFUSE;
    } else {
        if (*p == ',') {
            p++;
            goto array_next;
        }
        if (*p != ']') return REFUSE;
    }
    p++;
close:
    if (depth > 0) {
        if (st[depth].raw >= 0) CHECK(column_value(c, st[depth].raw, st[depth].opened, p, -1));
        if (st[depth].keydef >= 0 && st[depth].found)
            CHECK(keys_value(c, &sk->keydefs[st[depth].keydef], st[depth].found));
        depth--;
        goto after_value;
    }
    if (seen != sk->required_mask) return REFUSE;
    CHECK(record_end(c));
    *pp = p;
    return OK;
}

static int push_int64(Buf *b, int64_t v) {
    if (buf_reserve(b, 8) < 0) return NOMEM;
    memcpy(b->p + b->len, &v, 8);
    b->len += 8;
    return OK;
}

/* The whole text: `{"Records": [record, ...]}` with blank space around any token. */
static int parse_file(Ctx *c) {
    const uint8_t *p = skip_space(c->base, c->end), *end = c->end;
    if (p >= end || *p != '{') return REFUSE;
    p = skip_space(p + 1, end);
    if (p >= end || *p != '"') return REFUSE;
    int escaped = 0;
    const uint8_t *s = p + 1, *q = scan_string(s, end, &escaped);
    if (!q) return REFUSE;
    c->arena.len = 0;
    if (unescape(&c->arena, s, q) < 0) return NOMEM;
    if (c->arena.len != 7 || memcmp(c->arena.p, "Records", 7) != 0) return REFUSE;
    p = skip_space(q + 1, end);
    if (p >= end || *p != ':') return REFUSE;
    p = skip_space(p + 1, end);
    if (p >= end || *p != '[') return REFUSE;
    p = skip_space(p + 1, end);
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '{') return REFUSE;
            CHECK(push_int64(&c->starts, (int64_t)(p - c->base)));
            CHECK(parse_record(c, &p));
            CHECK(push_int64(&c->ends, (int64_t)(p - c->base)));
            p = skip_space(p, end);
            if (p < end && *p == ',') {
                p = skip_space(p + 1, end);
                continue;
            }
            if (p < end && *p == ']') {
                p++;
                break;
            }
            return REFUSE;
        }
    }
    p = skip_space(p, end);
    if (p >= end || *p != '}') return REFUSE;
    p = skip_space(p + 1, end);
    return p == end ? OK : REFUSE;
}

/* -- the Python type ---------------------------------------------------------------------------- */

static int ctx_reserve(Ctx *c, Py_ssize_t size);

static void ctx_free(Ctx *c, int ncols) {
    buf_free(&c->starts);
    buf_free(&c->ends);
    buf_free(&c->arena);
    free(c->held);
    buf_free(&c->picks);
    for (int i = 0; i < ncols; i++) {
        if (c->data) buf_free(&c->data[i]);
        if (c->offsets) buf_free(&c->offsets[i]);
        if (c->valid) buf_free(&c->valid[i]);
    }
    free(c->data);
    free(c->offsets);
    free(c->valid);
    free(c->nonnull);
    free(c->guess);
    for (int i = 0; i < MAX_DEPTH; i++) free(c->sets[i].slots);
    free(c);
}

/* A buffer of `size` bytes for the answer, its memory at *p: from the skimmer's allocator
 * (pyarrow's pool, which keeps freed memory for the next call, where malloc would give a large
 * block at the heap's top back to the system and fault it in afresh every call), else bytes. */
static PyObject *out_buffer(const SkimmerObject *sk, Py_ssize_t size, char **p) {
    if (!sk->allocate) {
        PyObject *b = PyBytes_FromStringAndSize(NULL, size);
        if (b) *p = PyBytes_AS_STRING(b);
        return b;
    }
    PyObject *b = PyObject_CallFunction(sk->allocate, "n", size);
    if (!b) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(b, &view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(b);
        return NULL;
    }
    /* the object holds its memory in place for as long as it lives */
    int small = view.len < size;
    *p = view.buf;
    PyBuffer_Release(&view);
    if (small) {
        PyErr_SetString(PyExc_ValueError, "the allocator gave a buffer too small");
        Py_DECREF(b);
        return NULL;
    }
    return b;
}

/* The columns one after another as one string array's buffers (column c holds its rows
 * c*n .. c*n+n-1), so that Python makes one Arrow array and slices it: an array of its own per
 * column costs more than the whole C pass for a file of a few dozen records. */
static PyObject *joined_columns(Ctx *c, int ncols) {
    Py_ssize_t n = c->n, rows = n * ncols, size = 0, nulls = 0;
    for (int i = 0; i < ncols; i++) {
        size += c->data[i].len;
        nulls += n - c->nonnull[i];
    }
    if (size > INT32_MAX) return Py_NewRef(Py_None); /* cannot be: no text of 2 GiB is read */
    char *d = NULL, *op = NULL, *vp = NULL;
    PyObject *data = out_buffer(c->sk, size, &d);
    PyObject *offsets = out_buffer(c->sk, 4 * (rows + 1), &op);
    /* a byte more than the rows need: a column's bits are ORed in a byte at a time */
    PyObject *valid = nulls ? out_buffer(c->sk, rows / 8 + 2, &vp) : Py_NewRef(Py_None);
    if (!data || !offsets || !valid) goto fail;
    int32_t *o = (int32_t *)(void *)op;
    uint8_t *v = (uint8_t *)vp;
    if (v) memset(v, 0, (size_t)(rows / 8 + 2));
    int32_t base = 0;
    o[0] = 0;
    for (int i = 0; i < ncols; i++) {
        const Buf *b = &c->data[i];
        if (b->len) memcpy(d + base, b->p, (size_t)b->len);
        const int32_t *from = (const int32_t *)(const void *)c->offsets[i].p;
        int32_t *to = o + (Py_ssize_t)i * n;
        /* offsets past the column's last value are not written: they all end at its end */
        Py_ssize_t have = c->offsets[i].len / 4, r = 1;
        for (; r < have && r <= n; r++) to[r] = base + from[r];
        for (; r <= n; r++) to[r] = base + (int32_t)b->len;
        if (v) { /* the column's bits past its n rows are 0, so whole bytes can be ORed */
            const uint8_t *bits = (const uint8_t *)c->valid[i].p;
            Py_ssize_t at = (Py_ssize_t)i * n, shift = at & 7;
            uint8_t *to_byte = v + (at >> 3);
            for (Py_ssize_t k = 0; k < (n + 7) / 8; k++) {
                to_byte[k] |= (uint8_t)(bits[k] << shift);
                if (shift) to_byte[k + 1] |= (uint8_t)(bits[k] >> (8 - shift));
            }
        }
        base += (int32_t)b->len;
    }
    return Py_BuildValue("(NNNn)", valid, offsets, data, nulls);
fail:
    Py_XDECREF(data);
    Py_XDECREF(offsets);
    Py_XDECREF(valid);
    return NULL;
}

static PyObject *result(Ctx *c, int ncols) {
    char *sp = NULL;
    PyObject *spans = out_buffer(c->sk, c->starts.len + c->ends.len, &sp);
    if (!spans) return NULL;
    if (c->starts.len) {
        memcpy(sp, c->starts.p, (size_t)c->starts.len);
        memcpy(sp + c->starts.len, c->ends.p, (size_t)c->ends.len);
    }
    PyObject *columns = joined_columns(c, ncols);
    if (!columns) {
        Py_DECREF(spans);
        return NULL;
    }
    if (columns == Py_None) {
        Py_DECREF(spans);
        return columns;
    }
    char *pp = NULL;
    PyObject *picks = c->sk->gate ? out_buffer(c->sk, c->picks.len, &pp) : Py_NewRef(Py_None);
    if (!picks) {
        Py_DECREF(spans);
        Py_DECREF(columns);
        return NULL;
    }
    if (pp && c->picks.len) memcpy(pp, c->picks.p, (size_t)c->picks.len);
    return Py_BuildValue("(nNNN)", c->n, spans, columns, picks);
}

/* Buffers for texts of `size` bytes in all: sized for records of 1 kB, so that most calls
 * never grow one. */
/* A call's working buffers: the skimmer's spare ones when it has them (buffers freed and
 * allocated again every call would be given back to the system from the heap's top and
 * faulted in afresh, which costs more than a small file's skimming), else new ones; NULL when
 * out of memory. Sized for texts of `size` bytes in all (records of 1 kB), emptied. */
static Ctx *ctx_take(SkimmerObject *sk, Py_ssize_t size) {
    int ncols = sk->ncols;
    Ctx *c = sk->spare;
    sk->spare = NULL; /* taken with the GIL held: a call from another thread makes its own */
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return NULL;
        c->sk = sk;
        c->data = calloc((size_t)ncols + 1, sizeof(Buf));
        c->offsets = calloc((size_t)ncols + 1, sizeof(Buf));
        c->valid = calloc((size_t)ncols + 1, sizeof(Buf));
        c->nonnull = calloc((size_t)ncols + 1, sizeof(Py_ssize_t));
        c->guess = malloc(sizeof(int) * 2 * (size_t)sk->nnodes);
        c->held = malloc(sizeof(Held) * ((size_t)ncols + 1));
        if (!c->data || !c->offsets || !c->valid || !c->nonnull || !c->guess || !c->held)
            goto nomem;
        memset(c->guess, 0xff, sizeof(int) * 2 * (size_t)sk->nnodes); /* -1 */
    }
    c->n = 0;
    c->starts.len = c->ends.len = c->arena.len = c->picks.len = 0;
    memset(c->nonnull, 0, sizeof(Py_ssize_t) * (size_t)ncols);
    if (ctx_reserve(c, size) != OK) goto nomem;
    return c;
nomem:
    ctx_free(c, ncols);
    return NULL;
}

/* Keeps a call's buffers for the next call, unless the skimmer has some already or they grew
 * large (a huge file's buffers are not held for the skimmer's life). */
static void ctx_give(SkimmerObject *sk, Ctx *c) {
    Py_ssize_t held = c->starts.cap + c->ends.cap + c->arena.cap + c->picks.cap;
    for (int i = 0; i < sk->ncols; i++)
        held += c->data[i].cap + c->offsets[i].cap + c->valid[i].cap;
    if (!sk->spare && held <= SPARE_BYTES) sk->spare = c;
    else ctx_free(c, sk->ncols);
}

static int ctx_reserve(Ctx *c, Py_ssize_t size) {
    int ncols = c->sk->ncols;
    Py_ssize_t records = size / 1024 + 8;
    if (buf_reserve(&c->starts, 8 * records) < 0 || buf_reserve(&c->ends, 8 * records) < 0)
        return NOMEM;
    for (int i = 0; i < ncols; i++) { /* each column's first offset, 0 */
        if (buf_reserve(&c->offsets[i], 4 * (records + 1)) < 0 ||
            buf_reserve(&c->valid[i], records / 8 + 1) < 0 ||
            buf_reserve(&c->data[i], 32 * records) < 0)
            return NOMEM;
        memset(c->offsets[i].p, 0, 4);
        c->offsets[i].len = 4;
        c->data[i].len = c->valid[i].len = 0;
    }
    return OK;
}

static void ctx_text(Ctx *c, const void *text, Py_ssize_t len) {
    c->base = text;
    c->end = c->base + len;
}

/* Forgets every record from the n0-th on (a refused text's records, and the one it stopped
 * in), so that the next text's go where they were; nonnull0: each column's count at n0. */
static void rollback(Ctx *c, Py_ssize_t n0, const Py_ssize_t *nonnull0) {
    c->n = n0;
    c->starts.len = c->ends.len = 8 * n0;
    while (c->picks.len) { /* the records read in full, in order: the last ones go */
        int64_t row;
        memcpy(&row, c->picks.p + c->picks.len - 8, 8);
        if (row < (int64_t)n0) break;
        c->picks.len -= 8;
    }
    for (int i = 0; i < c->sk->ncols; i++) {
        /* a column with no value since record n0 began keeps its offsets and data as they are */
        if (c->offsets[i].len > 4 * n0) {
            int32_t off;
            memcpy(&off, c->offsets[i].p + 4 * n0, 4);
            c->offsets[i].len = 4 * (n0 + 1);
            c->data[i].len = off;
        }
        c->nonnull[i] = nonnull0[i];
        c->valid[i].len = (n0 + 7) / 8; /* record_begin adds a byte at each multiple of 8 */
        if (n0 & 7) c->valid[i].p[n0 >> 3] &= (char)((1u << (n0 & 7)) - 1);
    }
}

static PyObject *Skimmer_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    SkimmerObject *sk = (SkimmerObject *)self;
    Py_buffer text;
    static char *kwlist[] = {"text", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*:Skimmer", kwlist, &text)) return NULL;
    if (text.len >= INT32_MAX) {
        PyBuffer_Release(&text);
        Py_RETURN_NONE;
    }
    int ncols = sk->ncols;
    Ctx *c = ctx_take(sk, text.len);
    int r = c ? OK : NOMEM;
    if (c) ctx_text(c, text.buf, text.len);
    /* other threads may run meanwhile only if nobody can change the text under us (the
     * decoding of a string trusts its earlier validation) */
    if (r == OK && text.obj && PyBytes_CheckExact(text.obj)) {
        Py_BEGIN_ALLOW_THREADS
        r = parse_file(c);
        Py_END_ALLOW_THREADS
    } else if (r == OK) {
        r = parse_file(c);
    }
    PyObject *out = NULL;
    if (r == NOMEM) PyErr_NoMemory();
    else if (r == REFUSE) out = Py_NewRef(Py_None);
    else out = result(c, ncols);
    if (c) ctx_give(sk, c);
    PyBuffer_Release(&text);
    return out;
}

/* Every text in turn into the same buffers: (counts, n, spans, columns) with counts a list of
 * each text's records (-1 where refused), spans and columns as a one-text call's over all n
 * records of the texts answered, in order (a span counts from its own text's start); None
 * when the whole is too large for one string array. */
static PyObject *Skimmer_many(PyObject *self, PyObject *arg) {
    SkimmerObject *sk = (SkimmerObject *)self;
    /* a tuple of its own: nobody can change which texts it holds while the GIL is let go */
    PyObject *texts = PySequence_Tuple(arg);
    if (!texts) return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(texts), size = 0;
    PyObject **items = &PyTuple_GET_ITEM(texts, 0);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(items[i])) { /* immutable: safe to read without the GIL */
            PyErr_SetString(PyExc_TypeError, "many() takes a list of bytes");
            Py_DECREF(texts);
            return NULL;
        }
        size += PyBytes_GET_SIZE(items[i]);
    }
    int ncols = sk->ncols;
    int64_t *counts = malloc(sizeof(int64_t) * (size_t)(count + 1));
    Py_ssize_t *nonnull0 = malloc(sizeof(Py_ssize_t) * (size_t)(ncols + 1));
    Ctx *c = ctx_take(sk, size);
    int r = c ? OK : NOMEM;
    if (!counts || !nonnull0) r = NOMEM;
    if (r == OK) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count && r != NOMEM; i++) {
            Py_ssize_t len = PyBytes_GET_SIZE(items[i]), n0 = c->n;
            memcpy(nonnull0, c->nonnull, sizeof(Py_ssize_t) * (size_t)ncols);
            ctx_text(c, PyBytes_AS_STRING(items[i]), len);
            r = len >= INT32_MAX ? REFUSE : parse_file(c);
            if (r == REFUSE) rollback(c, n0, nonnull0);
            counts[i] = r == OK ? (int64_t)(c->n - n0) : -1;
        }
        Py_END_ALLOW_THREADS
    }
    PyObject *out = NULL, *answers = NULL, *columns = NULL;
    if (r == NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    answers = PyList_New(count);
    if (!answers) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *k = PyLong_FromLongLong(counts[i]);
        if (!k) goto done;
        PyList_SET_ITEM(answers, i, k);
    }
    columns = result(c, ncols); /* (n, spans, columns) or None */
    if (!columns || columns == Py_None) {
        out = columns;
        columns = NULL;
        goto done;
    }
    out = Py_BuildValue("(OO)", answers, columns);
done:
    Py_XDECREF(answers);
    Py_XDECREF(columns);
    if (c) ctx_give(sk, c);
    free(counts);
    free(nonnull0);
    Py_DECREF(texts);
    return out;
}

static PyMethodDef Skimmer_methods[] = {
    {"many", Skimmer_many, METH_O,
     PyDoc_STR("many(texts): the records of many files' texts in one answer.")},
    {NULL, NULL, 0, NULL},
};

/* -- building the member tree ------------------------------------------------------------------- */

static int add_node(SkimmerObject *sk, int parent, const char *name, Py_ssize_t len) {
    Node *nodes = realloc(sk->nodes, sizeof(Node) * (size_t)(sk->nnodes + 1));
    if (!nodes) {
        PyErr_NoMemory();
        return -1;
    }
    sk->nodes = nodes;
    Node *n = &nodes[sk->nnodes];
    memset(n, 0, sizeof *n);
    n->name = malloc((size_t)len + 1);
    if (!n->name) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(n->name, name, (size_t)len);
    n->name[len] = 0;
    n->len = len;
    if (len >= 8 && len <= 16) {
        n->ends[0] = load64((const uint8_t *)name);
        n->ends[1] = load64((const uint8_t *)name + len - 8);
    }
    n->hash = hash_bytes(sk->seed, (const uint8_t *)name, (size_t)len);
    n->kinds = K_ANY;
    n->column = n->required_bit = n->first_child = n->next_sibling = n->keyed = -1;
    if (parent >= 0) {
        n->bit = nodes[parent].nchild;
        n->next_sibling = nodes[parent].first_child;
        nodes[parent].first_child = sk->nnodes;
        nodes[parent].nchild++;
    }
    return sk->nnodes++;
}

static int child_named(SkimmerObject *sk, int parent, const char *name, Py_ssize_t len) {
    for (int i = sk->nodes[parent].first_child; i >= 0; i = sk->nodes[i].next_sibling)
        if (sk->nodes[i].len == len && memcmp(sk->nodes[i].name, name, (size_t)len) == 0) return i;
    return add_node(sk, parent, name, len);
}

static int typed_member(SkimmerObject *sk, const char *name, int kinds, int required_bit) {
    int i = child_named(sk, 0, name, (Py_ssize_t)strlen(name));
    if (i < 0) return -1;
    sk->nodes[i].kinds &= kinds;
    sk->nodes[i].required_bit = required_bit;
    return 0;
}

/* A path's last index (its length less one), or -1 with an error: a path is a non-empty
 * tuple of member names. */
static Py_ssize_t path_last(PyObject *path) {
    if (!PyTuple_Check(path) || PyTuple_GET_SIZE(path) == 0) {
        PyErr_SetString(PyExc_TypeError, "a path is a non-empty tuple of member names");
        return -1;
    }
    return PyTuple_GET_SIZE(path) - 1;
}

/* The UTF-8 text of a tuple's `i`th item, or NULL with an error naming `what` when it is
 * not a str. */
static const char *tuple_text(PyObject *tuple, Py_ssize_t i, Py_ssize_t *len, const char *what) {
    PyObject *item = PyTuple_GET_ITEM(tuple, i);
    const char *text = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, len) : NULL;
    if (!text && !PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "%s is a str", what);
    return text;
}

/* The node of the path's `i`th member under `node`, made if new; -1 with an error. */
static int path_child(SkimmerObject *sk, PyObject *path, Py_ssize_t i, int node) {
    Py_ssize_t len;
    const char *name = tuple_text(path, i, &len, "a member name");
    return name ? child_named(sk, node, name, len) : -1;
}

static int add_path(SkimmerObject *sk, PyObject *path, int column, int raw) {
    Py_ssize_t last = path_last(path);
    if (last < 0) return -1;
    int node = 0;
    for (Py_ssize_t i = 0; i <= last; i++) {
        node = path_child(sk, path, i, node);
        if (node < 0) return -1;
        int leaf = raw ? K_ANY : (K_STR | K_NULL);
        sk->nodes[node].kinds &= i == last ? leaf : (K_OBJ | K_NULL);
    }
    if (sk->nodes[node].column >= 0) {
        PyErr_SetString(PyExc_ValueError, "a member path is given twice");
        return -1;
    }
    sk->nodes[node].column = column;
    sk->nodes[node].raw = raw;
    return 0;
}

/* A keys column's path: its node, reached through objects (or null); no keys column's path
 * may pass through another's, so that a key has one column to go to. */
static int keyed_node(SkimmerObject *sk, PyObject *path) {
    Py_ssize_t last = path_last(path);
    if (last < 0) return -1;
    int node = 0;
    for (Py_ssize_t i = 0; i <= last; i++) {
        node = path_child(sk, path, i, node);
        if (node < 0) return -1;
        Node *n = &sk->nodes[node];
        if (n->keyed >= 0 || (i == last && n->keyed_under)) {
            PyErr_SetString(PyExc_ValueError, "a keys path meets another");
            return -1;
        }
        if (i < last) {
            n->kinds &= K_OBJ | K_NULL;
            n->keyed_under = 1;
        }
    }
    return node;
}

/* The keys column `index` (column `column`): (path, keys), at most 64 keys. */
static int add_keyed(SkimmerObject *sk, PyObject *pair, int index, int column) {
    PyObject *path, *keys;
    if (!PyTuple_Check(pair) || !PyArg_ParseTuple(pair, "OO!", &path, &PyTuple_Type, &keys)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a keys path is (path, keys)");
        return -1;
    }
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys);
    if (nkeys == 0 || nkeys > 64) {
        PyErr_SetString(PyExc_ValueError, "a keys path has 1 to 64 keys");
        return -1;
    }
    int node = keyed_node(sk, path);
    if (node < 0) return -1;
    KeyDef *def = &sk->keydefs[index];
    def->column = column;
    def->names = calloc((size_t)nkeys, sizeof(char *));
    def->lens = calloc((size_t)nkeys, sizeof(Py_ssize_t));
    uint32_t cap = 4;
    while (cap < (uint32_t)nkeys * 2) cap *= 2;
    def->table = malloc(sizeof(struct Child) * cap);
    if (!def->names || !def->lens || !def->table) {
        PyErr_NoMemory();
        return -1;
    }
    def->mask = cap - 1;
    for (uint32_t j = 0; j < cap; j++) def->table[j].node = -1;
    for (Py_ssize_t i = 0; i < nkeys; i++) {
        Py_ssize_t len;
        const char *name = tuple_text(keys, i, &len, "a key");
        if (!name) return -1;
        for (Py_ssize_t k = 0; k < i; k++) {
            if (def->lens[k] == len && memcmp(def->names[k], name, (size_t)len) == 0) {
                PyErr_SetString(PyExc_ValueError, "a keys path names a key twice");
                return -1;
            }
        }
        def->names[i] = malloc((size_t)len + 1);
        if (!def->names[i]) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(def->names[i], name, (size_t)len + 1);
        def->lens[i] = len;
        def->nkeys = (int)i + 1;
        uint64_t h = hash_bytes(sk->seed, (const uint8_t *)name, (size_t)len);
        uint32_t j = (uint32_t)h & def->mask;
        while (def->table[j].node >= 0) j = (j + 1) & def->mask;
        def->table[j].node = (int)i;
        def->table[j].hash = h;
        unsigned bit = filter_bit((const uint8_t *)name, len);
        def->filter[bit >> 6] |= 1ull << (bit & 63);
    }
    sk->nodes[node].keyed = index;
    return 0;
}

static int build_tables(SkimmerObject *sk) {
    for (int i = 0; i < sk->nnodes; i++) {
        Node *n = &sk->nodes[i];
        if (!n->nchild) continue;
        uint32_t cap = 4;
        while (cap < (uint32_t)n->nchild * 2) cap *= 2;
        n->table = malloc(sizeof(struct Child) * cap);
        if (!n->table) {
            PyErr_NoMemory();
            return -1;
        }
        for (uint32_t j = 0; j < cap; j++) n->table[j].node = -1;
        n->mask = cap - 1;
        for (int k = n->first_child; k >= 0; k = sk->nodes[k].next_sibling) {
            uint32_t j = (uint32_t)sk->nodes[k].hash & n->mask;
            while (n->table[j].node >= 0) j = (j + 1) & n->mask;
            n->table[j].node = k;
            n->table[j].hash = sk->nodes[k].hash;
            unsigned bit = filter_bit((const uint8_t *)sk->nodes[k].name, sk->nodes[k].len);
            n->filter[bit >> 6] |= 1ull << (bit & 63);
        }
    }
    return 0;
}

/* A set of `texts` (width 1: str items; 2: pairs of str). */
static int text_set(const SkimmerObject *sk, TextSet *t, PyObject *texts, int width) {
    Py_ssize_t n = PyTuple_GET_SIZE(texts);
    if (n > INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "too many texts");
        return -1;
    }
    uint32_t cap = 4;
    while (cap < (uint32_t)n * 2) cap *= 2;
    t->width = width;
    t->table = malloc(sizeof(struct Child) * cap);
    t->names = calloc((size_t)(n * width) + 1, sizeof(char *));
    t->lens = calloc((size_t)(n * width) + 1, sizeof(Py_ssize_t));
    if (!t->table || !t->names || !t->lens) {
        PyErr_NoMemory();
        return -1;
    }
    t->mask = cap - 1;
    t->n = (int)n; /* before the names are copied: a set left half made frees what it holds */
    for (uint32_t j = 0; j < cap; j++) t->table[j].node = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(texts, i);
        if (width == 2 && (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)) {
            PyErr_SetString(PyExc_TypeError, "a pair is a tuple of two str");
            return -1;
        }
        for (int k = 0; k < width; k++) {
            Py_ssize_t len;
            const char *text = width == 2 ? tuple_text(item, k, &len, "a pair's item")
                                          : tuple_text(texts, i, &len, "a text");
            if (!text) return -1;
            char *copy = malloc((size_t)len + 1);
            if (!copy) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(copy, text, (size_t)len + 1);
            t->names[i * width + k] = copy;
            t->lens[i * width + k] = len;
        }
        const uint8_t *a = (const uint8_t *)t->names[i * width];
        const uint8_t *b = width == 2 ? (const uint8_t *)t->names[i * width + 1] : NULL;
        uint64_t h = text_hash(sk->seed, a, t->lens[i * width], b, b ? t->lens[i * width + 1] : 0);
        uint32_t j = (uint32_t)h & t->mask;
        while (t->table[j].node >= 0) j = (j + 1) & t->mask;
        t->table[j].node = (int)i;
        t->table[j].hash = h;
    }
    return 0;
}

static void text_set_free(TextSet *t) {
    for (int i = 0; t->names && i < t->n * t->width; i++) free(t->names[i]);
    free(t->names);
    free(t->lens);
    free(t->table);
}

/* The gate of `select` (see the top of this file), over the skimmer's columns. */
static int make_gate(SkimmerObject *sk, PyObject *select) {
    PyObject *always, *providers, *actions, *pairs;
    int provider, action;
    if (!PyArg_ParseTuple(select, "O!iiO!O!O!:select", &PyTuple_Type, &always, &provider, &action,
                          &PyTuple_Type, &providers, &PyTuple_Type, &actions, &PyTuple_Type,
                          &pairs))
        return -1;
    Gate *g = sk->gate = calloc(1, sizeof *g);
    if (!g || !(g->always = calloc((size_t)sk->ncols + 1, 1))) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(always); i++) {
        long col = PyLong_AsLong(PyTuple_GET_ITEM(always, i));
        if (col == -1 && PyErr_Occurred()) return -1;
        if (col < 0 || col >= sk->ncols) {
            PyErr_SetString(PyExc_ValueError, "an always read column is out of range");
            return -1;
        }
        g->always[col] = 1;
    }
    int text = sk->ntext;
    if (provider < 0 || provider >= text || action < 0 || action >= text || provider == action ||
        !g->always[provider] || !g->always[action]) {
        PyErr_SetString(PyExc_ValueError,
                        "the provider and action are two text columns, always read");
        return -1;
    }
    g->provider = provider;
    g->action = action;
    if (text_set(sk, &g->providers, providers, 1) < 0 || text_set(sk, &g->actions, actions, 1) < 0 ||
        text_set(sk, &g->pairs, pairs, 2) < 0)
        return -1;
    return 0;
}

static void gate_free(Gate *g) {
    if (!g) return;
    free(g->always);
    text_set_free(&g->providers);
    text_set_free(&g->actions);
    text_set_free(&g->pairs);
    free(g);
}

static int Skimmer_init(PyObject *self, PyObject *args, PyObject *kwargs) {
    SkimmerObject *sk = (SkimmerObject *)self;
    PyObject *paths, *raw = NULL, *allocate = NULL, *keyed = NULL, *select = NULL;
    static char *kwlist[] = {"paths", "raw", "allocate", "keyed", "select", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!|O!OO!O:Skimmer", kwlist, &PyTuple_Type,
                                     &paths, &PyTuple_Type, &raw, &allocate, &PyTuple_Type, &keyed,
                                     &select))
        return -1;
    if (sk->nodes) {
        PyErr_SetString(PyExc_TypeError, "a Skimmer is made once");
        return -1;
    }
    /* keyed per skimmer so that colliding member names cannot be precomputed */
    sk->seed = (uint64_t)(uintptr_t)self * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL) ^
               ((uint64_t)clock() << 32);
    Py_ssize_t nraw = raw ? PyTuple_GET_SIZE(raw) : 0;
    Py_ssize_t nkeyed = keyed ? PyTuple_GET_SIZE(keyed) : 0;
    if (PyTuple_GET_SIZE(paths) > INT32_MAX / 4 || nraw > INT32_MAX / 4 ||
        nkeyed > INT32_MAX / 4) {
        PyErr_SetString(PyExc_ValueError, "too many paths");
        return -1;
    }
    if (allocate && allocate != Py_None) {
        if (!PyCallable_Check(allocate)) {
            PyErr_SetString(PyExc_TypeError, "allocate is a callable: size -> writable buffer");
            return -1;
        }
        sk->allocate = Py_NewRef(allocate);
    }
    if (add_node(sk, -1, "", 0) < 0) return -1;
    int bit = 0;
    for (int i = 0; i < COUNT(REQUIRED_TEXT); i++, bit++) {
        if (typed_member(sk, REQUIRED_TEXT[i], K_STR, bit) < 0) return -1;
        sk->required_mask |= 1u << bit;
    }
    for (int i = 0; i < COUNT(OPTIONAL_TEXT); i++)
        if (typed_member(sk, OPTIONAL_TEXT[i], K_STR | K_NULL, -1) < 0) return -1;
    for (int i = 0; i < COUNT(TEXT_OR_BOOL); i++)
        if (typed_member(sk, TEXT_OR_BOOL[i], K_STR | K_BOOL | K_NULL, -1) < 0) return -1;
    int ntext = (int)PyTuple_GET_SIZE(paths);
    /* the raw paths' columns after the text paths', the keys columns last */
    sk->ncols = ntext + (int)nraw + (int)nkeyed;
    sk->ntext = ntext;
    for (int i = 0; i < ntext; i++)
        if (add_path(sk, PyTuple_GET_ITEM(paths, i), i, 0) < 0) return -1;
    for (int i = 0; i < (int)nraw; i++)
        if (add_path(sk, PyTuple_GET_ITEM(raw, i), ntext + i, 1) < 0) return -1;
    if (nkeyed) {
        sk->keydefs = calloc((size_t)nkeyed, sizeof(KeyDef));
        if (!sk->keydefs) {
            PyErr_NoMemory();
            return -1;
        }
        sk->nkeyed = (int)nkeyed;
    }
    for (int i = 0; i < (int)nkeyed; i++)
        if (add_keyed(sk, PyTuple_GET_ITEM(keyed, i), i, ntext + (int)nraw + i) < 0) return -1;
    if (build_tables(sk) < 0) return -1;
    return select && select != Py_None ? make_gate(sk, select) : 0;
}

static void Skimmer_dealloc(PyObject *self) {
    SkimmerObject *sk = (SkimmerObject *)self;
    for (int i = 0; i < sk->nnodes; i++) {
        free(sk->nodes[i].name);
        free(sk->nodes[i].table);
    }
    free(sk->nodes);
    for (int i = 0; i < sk->nkeyed; i++) {
        KeyDef *def = &sk->keydefs[i];
        for (int k = 0; k < def->nkeys; k++) free(def->names[k]);
        free(def->names);
        free(def->lens);
        free(def->table);
    }
    free(sk->keydefs);
    gate_free(sk->gate);
    Py_XDECREF(sk->allocate);
    if (sk->spare) ctx_free(sk->spare, sk->ncols);
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject SkimmerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trailhound.cloudtrail._skim.Skimmer",
    .tp_doc = PyDoc_STR("Skimmer(paths): call it with a records file's text."),
    .tp_basicsize = sizeof(SkimmerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = Skimmer_init,
    .tp_dealloc = Skimmer_dealloc,
    .tp_call = Skimmer_call,
    .tp_methods = Skimmer_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_skim", "The compiled skimmer of CloudTrail records files.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__skim(void) {
    if (PyType_Ready(&SkimmerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Skimmer", (PyObject *)&SkimmerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
