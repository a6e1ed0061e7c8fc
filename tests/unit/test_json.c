// Unit tests for the cJSON helpers (http/json.h, base/json_field.h): bounded parse (size,
// depth, trailing data, malformed), typed request getters and their error texts, escaping.
// SPDX-License-Identifier: MIT
#include "../test.h"

#include "base/buf.h"
#include "base/json_field.h"
#include "base/mem.h"
#include "base/status.h"
#include "http/json.h"

static cJSON *parse(const char *s, int *rc, char *err, size_t n) {
    cJSON *v = NULL;
    *rc = json_parse(s, strlen(s), 1 << 20, 8, &v, err, n);
    return v;
}

TEST(parse_bounds) {
    char err[256];
    int rc;
    cJSON *v = parse("{\"a\": [1, 2, {\"b\": 3}]}  \n", &rc, err, sizeof err);
    ASSERT_OK(rc);
    ASSERT_EQ(json_depth(v), 3);
    cJSON_Delete(v);
    v = parse("{\"a\": 1", &rc, err, sizeof err);
    ASSERT_EQ(rc, JANUS_EFORMAT);
    ASSERT(v == NULL);
    ASSERT(strstr(err, "malformed") != NULL);
    parse("{\"a\": 1} x", &rc, err, sizeof err);
    ASSERT_EQ(rc, JANUS_EFORMAT);
    parse("", &rc, err, sizeof err);
    ASSERT_EQ(rc, JANUS_EFORMAT);
    parse("[[[[[[[[[1]]]]]]]]]", &rc, err, sizeof err); // 9 > 8
    ASSERT_EQ(rc, JANUS_ELIMIT);
    ASSERT(strstr(err, "nesting") != NULL);
    v = parse("[[[[[[[[1]]]]]]]]", &rc, err, sizeof err); // 8
    ASSERT_OK(rc);
    cJSON_Delete(v);
    v = parse("{\"s\": \"[[[[[[[[[[[[[[[[\"}", &rc, err, sizeof err); // brackets inside strings
    ASSERT_OK(rc);
    cJSON_Delete(v);
    // a very deep document is refused before cJSON recurses
    static char deep[200001];
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    ASSERT_EQ(json_parse(deep, 200000, 1 << 20, 32, &v, err, sizeof err), JANUS_ELIMIT);
    ASSERT_EQ(json_parse("{}", 2, 1, 8, &v, err, sizeof err), JANUS_ELIMIT);
}

TEST(typed_getters) {
    char err[256];
    int rc;
    cJSON *v = parse("{\"i\": 5, \"f\": 0.5, \"b\": true, \"s\": \"hi\", \"n\": null, "
                     "\"a\": [1], \"o\": {}, \"x\": 2.5, \"big\": 1e300}",
                     &rc, err, sizeof err);
    ASSERT_OK(rc);
    int64_t i;
    double f;
    int b;
    const char *s;
    const cJSON *a;
    ASSERT_OK(json_field_i64(v, "i", 0, 10, &i, err, sizeof err));
    ASSERT_EQ(i, 5);
    ASSERT_EQ(json_field_i64(v, "i", 6, 10, &i, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "'i' must be between 6 and 10") != NULL);
    ASSERT_EQ(json_field_i64(v, "x", 0, 10, &i, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "'x' must be an integer") != NULL);
    ASSERT_EQ(json_field_i64(v, "big", 0, INT64_MAX, &i, err, sizeof err), JANUS_EINVAL);
    ASSERT_EQ(json_field_i64(v, "s", 0, 10, &i, err, sizeof err), JANUS_EINVAL);
    ASSERT_EQ(json_field_i64(v, "missing", 0, 10, &i, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT_EQ(json_field_i64(v, "n", 0, 10, &i, err, sizeof err), JANUS_ENOTFOUND);
    ASSERT_OK(json_field_f64(v, "f", 0, 1, &f, err, sizeof err));
    ASSERT_NEAR(f, 0.5, 0);
    ASSERT_OK(json_field_f64(v, "i", 0, 10, &f, err, sizeof err));
    ASSERT_EQ(json_field_f64(v, "b", 0, 1, &f, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "'b' must be a number") != NULL);
    ASSERT_OK(json_field_bool(v, "b", &b, err, sizeof err));
    ASSERT_EQ(b, 1);
    ASSERT_EQ(json_field_bool(v, "i", &b, err, sizeof err), JANUS_EINVAL);
    ASSERT_OK(json_field_strref(v, "s", 10, &s, err, sizeof err));
    ASSERT_STR_EQ(s, "hi");
    ASSERT_EQ(json_field_strref(v, "s", 1, &s, err, sizeof err), JANUS_EINVAL);
    ASSERT_EQ(json_field_strref(v, "a", 10, &s, err, sizeof err), JANUS_EINVAL);
    ASSERT(strstr(err, "'a' must be a string") != NULL);
    ASSERT_OK(json_field_array(v, "a", &a, err, sizeof err));
    ASSERT_EQ(json_field_array(v, "o", &a, err, sizeof err), JANUS_EINVAL);
    ASSERT_OK(json_field_object(v, "o", &a, err, sizeof err));
    ASSERT_EQ(json_field_object(v, "a", &a, err, sizeof err), JANUS_EINVAL);
    cJSON_Delete(v);
}

TEST(string_escaping) {
    struct buf b;
    buf_init(&b, 1024);
    const char s[] = "a\"b\\c\nd\x01\xff\xe2\x82\xac";
    ASSERT_OK(json_append_str(&b, s, sizeof s - 1));
    ASSERT_STR_EQ(b.data, "\"a\\\"b\\\\c\\nd\\u0001\xEF\xBF\xBD\xe2\x82\xac\"");
    // round trip through cJSON
    cJSON *v = cJSON_ParseWithLength(b.data, b.len);
    ASSERT(v && cJSON_IsString(v));
    ASSERT_STR_EQ(v->valuestring, "a\"b\\c\nd\x01\xEF\xBF\xBD\xe2\x82\xac");
    cJSON_Delete(v);
    buf_free(&b);
    buf_init(&b, 3);
    ASSERT_EQ(json_append_str(&b, "abcdef", 6), JANUS_ELIMIT);
    buf_free(&b);
}
