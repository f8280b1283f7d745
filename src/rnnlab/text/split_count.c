/* Word splitting and counting for the vectorized Tokenizer engine: one pass over the bytes,
 * one hash table for the whole corpus.
 *
 * A counter (counter_new) is fed chunks of texts in order (counter_feed). In a chunk,
 * data[bounds[t] .. bounds[t+1]) is text t, already lower-cased and filtered through the
 * tokenizer's byte table, each text ending with one separator byte. Words are the maximal runs of
 * bytes other than `sep`. For every word, in order, ids[] gets the number of its distinct word
 * (distinct words are numbered by first appearance over all chunks fed so far) and per_text[t]
 * gets the words of text t; ids needs room for bounds[n_texts] / 2 + 1 entries. counter_export
 * copies the distinct words out: word u is bytes[offsets[u] .. offsets[u+1]). counter_lookup
 * splits the same way but only looks words up (-1 for a word never fed) and changes nothing, so
 * several threads may look up in one counter at once: fed with a vocabulary, it encodes texts.
 *
 * The table is open addressing (linear probing) on 64-bit FNV-1a hashes, doubled at half full;
 * a word matches a slot when its length and bytes are equal (the hash only finds the slot).
 * Functions that allocate return -1 when memory runs out. Compiled on first use by rnnlab/_cc.py;
 * without a C compiler rnnlab/text/tokenizer.py uses Arrow's ascii_split_whitespace and
 * dictionary_encode instead (the same result). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* a slot keeps the word's first 8 bytes (zero-padded): words of up to 8 bytes, most of them,
 * are compared there without reading the word store */
typedef struct { uint64_t hash; uint64_t head; int32_t word; int32_t len; } slot_t;

static inline uint64_t head_of(const uint8_t *w, int32_t len) {
    uint64_t h = 0;
    memcpy(&h, w, (size_t)(len < 8 ? len : 8));
    return h;
}

typedef struct {
    slot_t *tab;
    uint64_t cap;
    int64_t n;                  /* distinct words */
    uint8_t *bytes;             /* their bytes, in order */
    int64_t nbytes, bytes_cap;
    int64_t *offs;              /* n + 1 offsets into bytes */
    int64_t offs_cap;
} counter_t;

static slot_t *table_new(uint64_t cap) {
    slot_t *t = (slot_t *)malloc(cap * sizeof(slot_t));
    if (t) for (uint64_t i = 0; i < cap; i++) t[i].word = -1;
    return t;
}

void counter_free(void *p) {
    counter_t *c = (counter_t *)p;
    if (!c) return;
    free(c->tab); free(c->bytes); free(c->offs); free(c);
}

void *counter_new(void) {
    counter_t *c = (counter_t *)calloc(1, sizeof(counter_t));
    if (!c) return NULL;
    c->cap = 1u << 16;
    c->tab = table_new(c->cap);
    c->bytes_cap = 1 << 20;
    c->bytes = (uint8_t *)malloc((size_t)c->bytes_cap);
    c->offs_cap = 1 << 16;
    c->offs = (int64_t *)malloc((size_t)c->offs_cap * sizeof(int64_t));
    if (!c->tab || !c->bytes || !c->offs) { counter_free(c); return NULL; }
    c->offs[0] = 0;
    return c;
}

static int grow_table(counter_t *c) {
    uint64_t ncap = c->cap * 2, nmask = ncap - 1;
    slot_t *nt = table_new(ncap);
    if (!nt) return -1;
    for (uint64_t j = 0; j < c->cap; j++) {
        if (c->tab[j].word < 0) continue;
        uint64_t q = c->tab[j].hash & nmask;
        while (nt[q].word >= 0) q = (q + 1) & nmask;
        nt[q] = c->tab[j];
    }
    free(c->tab);
    c->tab = nt;
    c->cap = ncap;
    return 0;
}

static int add_word(counter_t *c, const uint8_t *w, int32_t len) {
    if (c->nbytes + len > c->bytes_cap) {
        int64_t cap = c->bytes_cap * 2;
        while (cap < c->nbytes + len) cap *= 2;
        uint8_t *b = (uint8_t *)realloc(c->bytes, (size_t)cap);
        if (!b) return -1;
        c->bytes = b; c->bytes_cap = cap;
    }
    if (c->n + 2 > c->offs_cap) {
        int64_t *o = (int64_t *)realloc(c->offs, (size_t)c->offs_cap * 2 * sizeof(int64_t));
        if (!o) return -1;
        c->offs = o; c->offs_cap *= 2;
    }
    memcpy(c->bytes + c->nbytes, w, (size_t)len);
    c->nbytes += len;
    c->offs[++c->n] = c->nbytes;
    return 0;
}

/* The pass of counter_feed (insert = 1: a new word is added) and counter_lookup (insert = 0: a
 * new word is -1 and nothing is written to the counter); -1 when memory runs out. */
static inline __attribute__((always_inline)) long scan(counter_t *c, const uint8_t *data, const int64_t *bounds,
                                                       long n_texts, uint8_t sep, int32_t *ids, int64_t *per_text,
                                                       const int insert) {
    slot_t *tab = c->tab;  /* in locals: the stores to ids / per_text could alias the counter's fields */
    uint64_t mask = c->cap - 1;
    long nw = 0;
    for (long t = 0; t < n_texts; t++) {
        int64_t i = bounds[t], end = bounds[t + 1];
        long before = nw;
        while (i < end) {
            while (i < end && data[i] == sep) i++;
            if (i >= end) break;
            int64_t s = i;
            uint64_t h = 1469598103934665603ULL;
            while (i < end && data[i] != sep) { h ^= data[i]; h *= 1099511628211ULL; i++; }
            int32_t len = (int32_t)(i - s);
            uint64_t head = head_of(data + s, len);
            uint64_t k = h & mask;
            for (;;) {
                slot_t *sl = &tab[k];
                if (sl->word < 0) {  /* a word not in the table */
                    if (!insert) {
                        ids[nw++] = -1;
                        break;
                    }
                    if (add_word(c, data + s, len) < 0) return -1;
                    sl->word = (int32_t)(c->n - 1);
                    sl->hash = h;
                    sl->head = head;
                    sl->len = len;
                    ids[nw++] = sl->word;
                    if ((uint64_t)c->n * 2 > c->cap) {
                        if (grow_table(c) < 0) return -1;
                        tab = c->tab;
                        mask = c->cap - 1;
                    }
                    break;
                }
                if (sl->hash == h && sl->len == len && sl->head == head
                        && (len <= 8 || memcmp(c->bytes + c->offs[sl->word] + 8, data + s + 8, (size_t)(len - 8)) == 0)) {
                    ids[nw++] = sl->word;
                    break;
                }
                k = (k + 1) & mask;
            }
        }
        per_text[t] = nw - before;
    }
    return nw;
}

long counter_feed(void *p, const uint8_t *data, const int64_t *bounds, long n_texts, uint8_t sep,
                  int32_t *ids, int64_t *per_text) {
    return scan((counter_t *)p, data, bounds, n_texts, sep, ids, per_text, 1);
}

long counter_lookup(void *p, const uint8_t *data, const int64_t *bounds, long n_texts, uint8_t sep,
                    int32_t *ids, int64_t *per_text) {
    return scan((counter_t *)p, data, bounds, n_texts, sep, ids, per_text, 0);
}

long counter_size(void *p) { return (long)((counter_t *)p)->n; }

long counter_nbytes(void *p) { return (long)((counter_t *)p)->nbytes; }

void counter_export(void *p, uint8_t *bytes, int64_t *offsets) {
    counter_t *c = (counter_t *)p;
    memcpy(bytes, c->bytes, (size_t)c->nbytes);
    memcpy(offsets, c->offs, (size_t)(c->n + 1) * sizeof(int64_t));
}
