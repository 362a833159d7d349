package io.ferry.l7.route;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class RequestPathTest {

    @ParameterizedTest
    @ValueSource(strings = {
            "/", "/foo", "/foo/", "/foo/bar", "/a.b/c.d", "/.well-known/acme-challenge/x", "/foo/..bar", "/foo/...",
            "/foo/.bar/", "/...", "/foo.", "/foo..", "/api/v1/users/42/orders", "/a+b=c;d,e", "/~user/" })
    void returnsTheSameInstanceWhenThereIsNothingToDo(String path) {
        assertThat(RequestPath.normalize(path)).isSameAs(path);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', nullValues = "INVALID", value = {
            // Merging slashes
            "//                      | /",
            "//foo                   | /foo",
            "/foo//bar               | /foo/bar",
            "/foo///bar//            | /foo/bar/",
            // Dot segments
            "/.                      | /",
            "/./                     | /",
            "/foo/.                  | /foo/",
            "/foo/./bar              | /foo/bar",
            "/foo/..                 | /",
            "/foo/../                | /",
            "/foo/bar/..             | /foo/",
            "/foo/bar/../baz         | /foo/baz",
            "/foo/bar/../../baz/     | /baz/",
            "/public/../admin        | /admin",
            "/a/./b/../../c/./d/     | /c/d/",
            "/foo//..                | /",
            "/..                     | INVALID",
            "/../foo                 | INVALID",
            "/foo/../..              | INVALID",
            "/foo/../../bar          | INVALID",
            // Percent-decoding
            "/foo%20bar              | /foo bar",
            "/%41%62c                | /Abc",
            "/caf%C3%A9              | /café",
            "/caf%c3%a9              | /café",
            "/%E2%82%AC              | /€",
            "/%F0%9F%98%80           | /\uD83D\uDE00",
            "/100%25                 | /100%",
            "/%2525                  | /%25",
            "/a%2Fb                  | /a/b",
            "/a%2f%2fb               | /a/b",
            "/a/%2e/b                | /a/b",
            "/a/b/%2E%2E/c           | /a/c",
            "/a/%2e%2e%2f%2e%2e%2fc  | INVALID",
            "/%2e%2e                 | INVALID",
            "/%FF                    | /\uFFFD",
            "/%C0%AE%C0%AE/x         | /\uFFFD\uFFFD\uFFFD\uFFFD/x",
            "/%                      | INVALID",
            "/%4                     | INVALID",
            "/%4G                    | INVALID",
            "/%G4                    | INVALID",
            "/foo%                   | INVALID",
            "/%00                    | INVALID",
            "/a%00b                  | INVALID",
            // Not a path
            "foo                     | INVALID",
            "*                       | INVALID",
            "http://h/               | INVALID",
    })
    void normalizesLikeNginx(String raw, String expected) {
        assertThat(RequestPath.normalize(raw)).isEqualTo(expected);
    }

    @Test
    void readsCharactersAsBytes() {
        // Netty's decoders give one char per byte: UTF-8 "é" arrives as "\u00C3\u00A9".
        assertThat(RequestPath.normalize("/caf\u00C3\u00A9")).isEqualTo("/café");
        // Already decoded text is taken as such.
        assertThat(RequestPath.normalize("/\u20AC/\uD83D\uDE00")).isEqualTo("/\u20AC/\uD83D\uDE00");
        assertThat(RequestPath.normalize("/\u20AC/%E2%82%AC")).isEqualTo("/\u20AC/\u20AC");
        assertThat(RequestPath.normalize("/a\u0000b")).isNull();
        assertThat(RequestPath.normalize("")).isNull();
        // A non-ASCII digit is no hex digit.
        assertThat(RequestPath.normalize("/%\u0661\u0662")).isNull();
    }

    @Test
    void findsTheQuery() {
        assertThat(RequestPath.queryStart("/foo?a=b")).isEqualTo(4);
        assertThat(RequestPath.queryStart("/foo")).isEqualTo(4);
        assertThat(RequestPath.queryStart("/?")).isEqualTo(1);
        assertThat(RequestPath.queryStart("/a?b?c")).isEqualTo(2);
        assertThat(RequestPath.queryStart("")).isEqualTo(0);
    }
}
