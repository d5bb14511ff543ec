/* make_seeds.c - writes the seed corpora in fuzz/corpus/<target>/ (run by hand, see
 * docs/fuzzing.md): real paths, bodies, ETag lists, headers, argv, offers, and tokens and cursors
 * made by the real auth_mint_hs256 and cursor_encode. Usage: fuzz_make_seeds <corpus dir>.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth.h"
#include "api/cursor.h"
#include "view/etag.h"

#define FUZZ_SECRET "offerd-fuzz-secret-0123456789abcdef" /* as in fuzz_auth_verify.c */
#define FUZZ_NOW 1767225600LL

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

/* A growable byte buffer for binary seeds. */
struct buf {
    unsigned char data[4096];
    size_t len;
};

static void add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > sizeof(b->data))
        abort();
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void add_str(struct buf *b, const char *s) { add(b, s, strlen(s)); }
static void add_nul(struct buf *b) { add(b, "", 1); }

static void add_u8(struct buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    add(b, &c, 1);
}

static void add_u64(struct buf *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        add_u8(b, (unsigned)(v >> (i * 8)) & 0xFF);
}

static void add_id(struct buf *b, const char *id)
{
    add_u8(b, (unsigned)strlen(id));
    add_str(b, id);
}

static void add_text(struct buf *b, const char *s)
{
    if (!s) {
        add_u8(b, 0xFF);
        add_u8(b, 0xFF);
        return;
    }
    size_t n = strlen(s);
    add_u8(b, (unsigned)(n >> 8));
    add_u8(b, (unsigned)(n & 0xFF));
    add_str(b, s);
}

static char *mint(const char *sub, int64_t iat, int64_t ttl)
{
    char *t = auth_mint_hs256(FUZZ_SECRET, sub, iat, ttl);
    if (!t) {
        fprintf(stderr, "auth_mint_hs256 failed for %s\n", sub);
        exit(1);
    }
    return t;
}

static void router_seeds(void)
{
    static const char *const seeds[][2] = {
        {"list", "GET\0/api/offers"},
        {"create", "POST\0/api/offers"},
        {"events", "GET\0/api/offers/events"},
        {"get", "GET\0/api/offers/demo_offer_1"},
        {"head", "HEAD\0/api/offers/off_2QH9xk3vR7mN1pLq8sTz4A"},
        {"offer_events", "GET\0/api/offers/demo_offer_2/events"},
        {"patch", "PATCH\0/api/offers/demo_offer_2"},
        {"counter", "POST\0/api/offers/demo_offer_2/counter"},
        {"healthz", "GET\0/healthz"},
        {"readyz", "GET\0/readyz"},
        {"metrics", "GET\0/metrics"},
        {"options", "OPTIONS\0/api/offers/x"},
        {"delete_405", "DELETE\0/api/offers/demo_offer_1"},
        {"bad_id", "GET\0/api/offers/not%20an%20id"},
        {"long_id", "GET\0/api/offers/"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/counter"},
        {"not_found", "GET\0/api/offers/a/b/c"},
        {"trailing_slash", "GET\0/api/offers/"},
        {"double_slash", "GET\0//api//offers"},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        const char *s = seeds[i][1];
        size_t method_len = strlen(s);
        put("router", seeds[i][0], s, method_len + 1 + strlen(s + method_len + 1));
    }
}

static void query_seeds(void)
{
    struct offer_cursor c = {true, 1764118787719LL, "demo_offer_2"};
    char text[CURSOR_TEXT_SIZE];
    cursor_encode(&c, text);
    put_str("query", "cursor", text);
    struct offer_cursor c2 = {true, 0, "off_2QH9xk3vR7mN1pLq8sTz4A"};
    cursor_encode(&c2, text);
    put_str("query", "cursor_epoch", text);
    struct offer_cursor c3 = {true, INT64_MAX, "a"};
    cursor_encode(&c3, text);
    put_str("query", "cursor_max", text);
    struct offer_cursor c4 = {true, 1764118787719LL,
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    cursor_encode(&c4, text);
    put_str("query", "cursor_long_id", text);
    put_str("query", "last_event_id", "42");
    put_str("query", "last_event_id_zero", "0");
    put_str("query", "last_event_id_big", "9223372036854775807");
    put_str("query", "last_event_id_over", "9223372036854775808");
    put_str("query", "resume_id", "1234:0123456789abcdef");
    put_str("query", "resume_id_max", "9223372036854775807:ffffffffffffffff");
    put_str("query", "resume_id_upper", "1234:0123456789ABCDEF");
    put_str("query", "ids", "demo_offer_1,demo_offer_2,off_2QH9xk3vR7mN1pLq8sTz4A");
    put_str("query", "ids_bad", "demo_offer_1,,bad id,");
    put_str("query", "wait", "30");
    put_str("query", "wait_max", "60");
    put_str("query", "wait_over", "61");
    put_str("query", "since", "17");
    put_str("query", "since_signed", "+17");
    put_str("query", "limit_max", "100");
    put_str("query", "limit_over", "101");
    put_str("query", "ids_repeats", "demo_offer_1,,demo_offer_2,demo_offer_1,");
    put_str("query", "since_list", "a:3,,bb:0,o_1:0009223372036854775807,0:1");
    put_str("query", "since_list_bad", "a:1,a:2,bb:,:4,o_1:-1");
    /* 64 one-character ids (the whole id alphabet), then a 65th distinct one. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    char ids[256];
    size_t len = 0;
    for (const char *ch = alphabet; *ch; ch++) {
        ids[len++] = *ch;
        ids[len++] = ',';
    }
    ids[len - 1] = '\0';
    put_str("query", "ids_max", ids);
    memcpy(ids + len - 1, ",aa", 4);
    put_str("query", "ids_too_many", ids);
}

/* selector byte (Content-Type choice, see fuzz_request_body.c) + body text */
static void put_body(const char *name, unsigned selector, const char *text)
{
    struct buf b = {.len = 0};
    add_u8(&b, selector);
    add_str(&b, text);
    put("request_body", name, b.data, b.len);
}

static void body_seeds(void)
{
    put_body("create", 0,
             "{\"productId\":\"demo_driver\",\"amount\":120,\"message\":\"Would 120 do?\"}");
    put_body("counter", 1, "{\"amount\":180.5}");
    put_body("counter_message", 2, "{\"amount\":19.99,\"message\":null}");
    put_body("accept", 0, "{\"status\":\"ACCEPTED\"}");
    put_body("reject", 0, "{\"status\":\"REJECTED\"}");
    put_body("bad_amount", 0, "{\"amount\":1.005,\"productId\":\"x y\"}");
    put_body("string_amount", 0, "{\"amount\":\"12\",\"message\":12}");
    put_body("duplicate", 0, "{\"amount\":1,\"amount\":2}");
    put_body("nul_message", 0, "{\"message\":\"a\\u0000b\",\"amount\":1e2}");
    put_body("not_object", 0, "[1,2,3]");
    put_body("malformed", 0, "{\"amount\":");
    put_body("text_plain", 4, "{\"amount\":1}");
    put_body("custom_type", 7, "application/json; charset=utf-8\n{\"amount\":10000000}");
    put_body("too_large", 0, "{\"amount\":10000000.01}");
    char big[1100] = "{\"message\":\"";
    memset(big + 12, 'm', 1001);
    memcpy(big + 1013, "\"}", 3);
    put_body("long_message", 0, big);
}

static void money_seeds(void)
{
    static const char *const amounts[] = {
        "180.5", "19.99", "0.29", "12", "12.0", "1e2", "1.005", "0.001", "-0.5", "0",
        "10000000", "10000000.01", "1e300", "\"12\"", "null", "9007199254740993", "0.01",
        "150.999999999999999999", "1999e-2", "1e-400",
        "{\"productId\":\"p\",\"amount\":150.999999999999999999}",
        "{\"m\":\"\\\"amount\\\":1\",\"x\":[{\"amount\":2}],\"\\u0061mount\":19.99}",
    };
    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "amount_%zu", i);
        put_str("money", name, amounts[i]);
    }
}

static void auth_seeds(void)
{
    char *alice = mint("demo_alice", FUZZ_NOW - 60, 3600);
    char *bob = mint("user_2abcDEFghiJKLmnoPQRstu", FUZZ_NOW - 60, 86400);
    char *expired = mint("demo_alice", FUZZ_NOW - 7200, 3600);
    char *future = mint("demo_bob", FUZZ_NOW + 3600, 3600);
    char long_sub[AUTH_SUB_MAX + 1];
    memset(long_sub, 's', AUTH_SUB_MAX);
    long_sub[AUTH_SUB_MAX] = '\0';
    char *longest = mint(long_sub, FUZZ_NOW, 600);

    const char *tokens[][2] = {
        {"alice", alice}, {"bob", bob}, {"expired", expired}, {"iat_future", future},
        {"long_sub", longest},
    };
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        struct buf b = {.len = 0};
        add_u8(&b, 0); /* raw token mode */
        add_str(&b, tokens[i][1]);
        put("auth_verify", tokens[i][0], b.data, b.len);
    }
    struct buf none = {.len = 0};
    add_u8(&none, 0);
    add_str(&none, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.");
    put("auth_verify", "none_alg", none.data, none.len);

    /* Signed mode: header JSON \0 claims JSON, signed by the harness. */
    static const char *const signed_seeds[][3] = {
        {"signed_ok", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
         "{\"sub\":\"demo_alice\",\"iat\":1767225540,\"exp\":1767229140}"},
        {"signed_nbf", "{\"alg\":\"HS256\"}",
         "{\"sub\":\"demo_bob\",\"exp\":1767229140.5,\"nbf\":1767225700}"},
        {"signed_no_exp", "{\"alg\":\"HS256\"}", "{\"sub\":\"demo_bob\"}"},
        {"signed_crit", "{\"alg\":\"HS256\",\"crit\":[\"x\"]}",
         "{\"sub\":\"a\",\"exp\":1767229140}"},
        {"signed_alg_case", "{\"alg\":\"hs256\"}", "{\"sub\":\"a\",\"exp\":1767229140}"},
        {"signed_rs256", "{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"exp\":1767229140}"},
        {"signed_sub_ctl", "{\"alg\":\"HS256\"}", "{\"sub\":\"a\\u0001b\",\"exp\":1767229140}"},
        {"signed_sub_num", "{\"alg\":\"HS256\"}", "{\"sub\":12,\"exp\":1767229140}"},
        {"signed_dup", "{\"alg\":\"HS256\"}",
         "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1767229140}"},
        {"signed_exp_str", "{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":\"1767229140\"}"},
        {"signed_exp_big", "{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1e300}"},
    };
    for (size_t i = 0; i < sizeof(signed_seeds) / sizeof(signed_seeds[0]); i++) {
        struct buf b = {.len = 0};
        add_u8(&b, 1);
        add_str(&b, signed_seeds[i][1]);
        add_nul(&b);
        add_str(&b, signed_seeds[i][2]);
        put("auth_verify", signed_seeds[i][0], b.data, b.len);
    }

    /* Headers: flags, Authorization \0 Cookie. */
    struct {
        const char *name;
        unsigned flags;
        const char *authorization;
        const char *cookie;
    } headers[] = {
        {"bearer", 2, "Bearer ", NULL},
        {"bearer_case_ows", 2, "\tbearer  ", NULL},
        {"cookie", 1, NULL, "theme=dark; __session="},
        {"cookie_quoted", 1, NULL, "__session=\""},
        {"basic_then_cookie", 0, "Basic dXNlcjpwYXNz", "a=b; __session="},
        {"both", 0, "Bearer ", "__session=other; x=y"},
        {"empty_bearer", 0, "Bearer ", "__session="},
        {"session_prefix", 1, NULL, "x__session=a; __sessionx=b; __session = c "},
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        struct buf b = {.len = 0};
        add_u8(&b, headers[i].flags);
        if (headers[i].authorization) {
            add_str(&b, headers[i].authorization);
            if (strncmp(headers[i].name, "bearer", 6) == 0 || !strcmp(headers[i].name, "both"))
                add_str(&b, alice);
        }
        add_nul(&b);
        if (headers[i].cookie) {
            add_str(&b, headers[i].cookie);
            if (strstr(headers[i].name, "cookie"))
                add_str(&b, bob);
            if (!strcmp(headers[i].name, "cookie_quoted"))
                add_str(&b, "\"; other=1");
        }
        put("auth_headers", headers[i].name, b.data, b.len);
    }
    free(alice);
    free(bob);
    free(expired);
    free(future);
    free(longest);
}

static void etag_seeds(void)
{
    static const char body[] = "{\"id\":\"demo_offer_1\",\"version\":3}";
    char tag[ETAG_SIZE];
    etag_make(3, body, sizeof(body) - 1, tag);
    const char *values[][2] = {
        {"exact", tag},
        {"star", "*"},
        {"weak_list", NULL},
        {"junk_list", NULL},
        {"other", "\"2-0123456789abcdef\""},
        {"unterminated", "\"3-abc, W/\"1-0000000000000000\""},
        {"negative", "\"-9223372036854775808-ffffffffffffffff\""},
        {"empty", ""},
    };
    char weak_list[128], junk_list[160];
    snprintf(weak_list, sizeof(weak_list), "\"1-0000000000000000\", W/%s", tag);
    snprintf(junk_list, sizeof(junk_list), "abc, \"x\"y, %s ,*", tag);
    values[2][1] = weak_list;
    values[3][1] = junk_list;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct buf b = {.len = 0};
        add_str(&b, values[i][1]);
        add_nul(&b);
        add_u64(&b, 3);
        add_str(&b, body);
        put("etag", values[i][0], b.data, b.len);
    }
}

static void config_seeds(void)
{
    struct {
        const char *name;
        const char *env[4]; /* "<name index byte><value>" */
        const char *argv[8];
    } seeds[] = {
        {"demo", {NULL}, {"--demo", "--port", "0", NULL}},
        {"flags", {NULL},
         {"--bind=0.0.0.0", "--db", "/var/lib/offerd.db", "--threads", "4", "--max-body=65536",
          "--access-log=off", NULL}},
        {"env", {"\x01" "9000", "\x06" "https://a.example, https://b.example", "\x07" "yes", NULL},
         {"--cors-origin", "https://c.example", NULL}},
        {"migrate", {"\x02" "/tmp/x.db", NULL}, {"migrate", "--db", "/tmp/y.db", NULL}},
        {"both_jwt", {"\x04" "secret", NULL}, {"--jwt-public-key", "/etc/key.pem", NULL}},
        {"help", {NULL}, {"--port", "1", "--help", NULL}},
        {"bad_number", {NULL}, {"--port", "65536", NULL}},
        {"missing_value", {NULL}, {"--db", NULL}},
        {"unknown", {NULL}, {"--nope=1", NULL}},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct buf b = {.len = 0};
        size_t nenv = 0;
        while (seeds[i].env[nenv])
            nenv++;
        add_u8(&b, (unsigned)nenv);
        for (size_t j = 0; j < nenv; j++) {
            add_str(&b, seeds[i].env[j]);
            add_nul(&b);
        }
        for (size_t j = 0; seeds[i].argv[j]; j++) {
            if (j)
                add_nul(&b);
            add_str(&b, seeds[i].argv[j]);
        }
        put("config", seeds[i].name, b.data, b.len);
    }
}

static void codec_seed(const char *name, const char *message, const char *title,
                       const char *first, const char *url, const char *counter_message,
                       int64_t amount, int64_t version)
{
    struct buf b = {.len = 0};
    add_u8(&b, 1); /* COUNTERED */
    add_u64(&b, (uint64_t)version);
    add_u64(&b, (uint64_t)amount);
    add_u64(&b, 1764118787719ULL);
    add_u64(&b, 1764120587719ULL);
    add_u8(&b, 1); /* has expiry */
    add_u64(&b, 1764723587719ULL);
    add_id(&b, "demo_offer_2");
    add_id(&b, "demo_putter");
    add_id(&b, "demo_alice");
    add_id(&b, "demo_bob");
    add_text(&b, message);
    add_id(&b, "demo_putter");
    add_id(&b, "demo_bob");
    add_text(&b, title);
    add_u64(&b, 30000);
    add_u8(&b, 1);
    add_text(&b, url);
    add_id(&b, "demo_alice");
    add_text(&b, first);
    add_text(&b, "Buyer");
    add_id(&b, "demo_bob");
    add_text(&b, "Bob");
    add_text(&b, NULL);
    add_u8(&b, 2);
    add_id(&b, "demo_counter_1");
    add_u64(&b, 27000);
    add_text(&b, counter_message);
    add_u8(&b, 1);
    add_u64(&b, 1764119987719ULL);
    add_id(&b, "demo_counter_2");
    add_u64(&b, 24000);
    add_text(&b, "Meet me at 240?");
    add_u8(&b, 0);
    add_u64(&b, 1764120587719ULL);
    add_str(&b, "offer not found");
    put("offer_codec", name, b.data, b.len);
}

static void codec_seeds(void)
{
    codec_seed("demo", NULL, "Scotty Cameron Newport 2 Putter", "Alice",
               "https://images.example.com/putter.jpg", "Lowest I can go is 270", 21000, 3);
    codec_seed("utf8", "Caf\xC3\xA9 \xE2\x82\xAC 19.99 \xF0\x9F\x8F\x8C", "\xE2\x80\x94 \"q\"\n\t",
               "\xC3\x85sa", "https://x/\\u0000", "ok", 1999, 1);
    codec_seed("invalid_utf8", "\xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82", "\xFF\xFE",
               "\x80", "\xF0\x9F\x8F", "\xC3", 29, INT64_MAX);
    codec_seed("extremes", "\x01\x1F\x7F", "", "", "", "", INT64_MIN, INT64_MIN);
}

static void client_addr_seeds(void)
{
    /* peer selector byte, "address text\0", then X-Forwarded-For values separated by \n */
    static const char peer_trusted[] = "\x00" "127.0.0.1\0" "203.0.113.9";
    static const char chain[] = "\x02" "10.0.0.0/8\0" "198.51.100.1, 203.0.113.9, 10.1.1.1";
    static const char v6_lines[] = "\x03" "fd00::/8\0" "2001:db8:aa:bb::1\nfd00::2";
    static const char garbage[] = "\x01" "::ffff:10.0.0.0/104\0" "unknown, 10.3.3.3";
    put("client_addr", "peer_trusted", peer_trusted, sizeof(peer_trusted) - 1);
    put("client_addr", "chain", chain, sizeof(chain) - 1);
    put("client_addr", "v6_lines", v6_lines, sizeof(v6_lines) - 1);
    put("client_addr", "garbage", garbage, sizeof(garbage) - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        perror(root);
        return 1;
    }
    router_seeds();
    query_seeds();
    body_seeds();
    money_seeds();
    auth_seeds();
    etag_seeds();
    config_seeds();
    codec_seeds();
    client_addr_seeds();
    return 0;
}
