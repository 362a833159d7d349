package io.ferry.l7.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** The proxy's header fields behave as Netty's {@code DefaultHttpHeaders}, operation by operation. */
class FlatHttpHeadersTest {

    private static final CharSequence[] NAMES = {
        "Host", "host", HttpHeaderNames.HOST, "Connection", HttpHeaderNames.CONNECTION, "X-Forwarded-For",
        new AsciiString("x-forwarded-FOR"), "Content-Length", "Transfer-Encoding", "TE", "X-Empty",
        new StringBuilder("Set-Cookie"), "set-cookie"};
    private static final Object[] VALUES = {
        "a.example", "close", "keep-alive, Upgrade", " chunked ", "gzip,  chunked", "", "1.2.3.4, 5.6.7.8",
        new AsciiString("Keep-Alive"), 42, new Date(784111777000L), "v\u00e9", "12", "x=1; Path=/", "CLOSE"};

    /** Both kinds side by side: every change made to both, every question asked of both, the answers compared. */
    private static void compare(HttpHeaders netty, HttpHeaders flat) {
        assertThat(flat.size()).isEqualTo(netty.size());
        assertThat(flat.isEmpty()).isEqualTo(netty.isEmpty());
        assertThat(fields(flat)).isEqualTo(fields(netty));
        assertThat(flat.entries()).isEqualTo(netty.entries());
        assertThat(flat.names()).isEqualTo(new LinkedHashSet<>(netty.names())); // Netty's may hold a spelling twice
        assertThat(flat.toString()).isEqualTo(netty.toString().replace("DefaultHttpHeaders", "FlatHttpHeaders"));
        for (CharSequence name : NAMES) {
            assertThat(flat.get(name)).as("get %s", name).isEqualTo(netty.get(name));
            assertThat(flat.get(name.toString())).isEqualTo(netty.get(name.toString()));
            assertThat(flat.getAll(name)).as("getAll %s", name).isEqualTo(netty.getAll(name));
            assertThat(flat.contains(name)).isEqualTo(netty.contains(name));
            assertThat(flat.getInt(name)).as("getInt %s", name).isEqualTo(netty.getInt(name));
            assertThat(flat.getInt(name, -7)).isEqualTo(netty.getInt(name, -7));
            assertThat(flat.getShort(name)).isEqualTo(netty.getShort(name));
            Long date = null;
            try {
                date = netty.getTimeMillis(name);
            } catch (Exception notADate) { // Netty throws a ParseException; FlatHttpHeaders says null
                // leave it null
            }
            assertThat(flat.getTimeMillis(name)).as("getTimeMillis %s", name).isEqualTo(date);
            assertThat(list(flat.valueCharSequenceIterator(name)))
                .isEqualTo(list(netty.valueCharSequenceIterator(name)));
            for (Object value : VALUES) {
                if (value instanceof CharSequence) {
                    CharSequence v = (CharSequence) value;
                    for (boolean ignoreCase : new boolean[] {true, false}) {
                        assertThat(flat.contains(name, v, ignoreCase))
                            .as("contains %s %s %s", name, v, ignoreCase)
                            .isEqualTo(netty.contains(name, v, ignoreCase));
                        assertThat(flat.containsValue(name, v, ignoreCase))
                            .as("containsValue %s %s %s", name, v, ignoreCase)
                            .isEqualTo(netty.containsValue(name, v, ignoreCase));
                    }
                }
            }
            CharSequence[] tokens = {"close", "keep-alive", "upgrade", "chunked", "gzip", "1.2.3.4", "5.6.7.8", ""};
            for (CharSequence token : tokens) {
                assertThat(flat.containsValue(name, token, true)).isEqualTo(netty.containsValue(name, token, true));
                assertThat(flat.containsValue(name, token, false)).isEqualTo(netty.containsValue(name, token, false));
            }
        }
    }

    private static List<String> fields(HttpHeaders h) {
        List<String> all = new ArrayList<>();
        Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> e = it.next();
            all.add(e.getKey() + ": " + e.getValue());
        }
        return all;
    }

    private static List<String> list(Iterator<? extends CharSequence> it) {
        List<String> all = new ArrayList<>();
        it.forEachRemaining(v -> all.add(v.toString()));
        return all;
    }

    @Test
    void randomChangesLeaveBothAlike() {
        Random random = new Random(20261129);
        for (int round = 0; round < 80; round++) {
            HttpHeaders netty = DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
            HttpHeaders flat = new FlatHttpHeaders(false);
            for (int step = 0; step < 30; step++) {
                CharSequence name = NAMES[random.nextInt(NAMES.length)];
                Object value = VALUES[random.nextInt(VALUES.length)];
                Consumer<HttpHeaders> change;
                switch (random.nextInt(9)) {
                    case 0: case 1: case 2: change = h -> h.add(name, value); break;
                    case 3: change = h -> h.set(name, value); break;
                    case 4: change = h -> h.remove(name); break;
                    case 5: change = h -> h.add(name.toString(), List.of(value, "second")); break;
                    case 6: change = h -> h.setInt(name, 7); break;
                    case 7: change = h -> h.set(name, List.of("one", value)); break;
                    default: change = h -> h.addShort(name, (short) 3); break;
                }
                change.accept(netty);
                change.accept(flat);
                compare(netty, flat);
            }
            compare(netty.copy(), flat.copy());
            HttpHeaders nettyAll = DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
            HttpHeaders flatAll = new FlatHttpHeaders(false);
            nettyAll.add("X-Before", "b").set(netty);
            flatAll.add("X-Before", "b").set(flat);
            compare(nettyAll, flatAll);
            netty.clear();
            flat.clear();
            compare(netty, flat);
        }
    }

    @Test
    void removingThroughTheIteratorRemovesThatField() {
        HttpHeaders flat = new FlatHttpHeaders(false).add("A", "1").add("B", "2").add("a", "3").add("C", "4");
        Iterator<Map.Entry<CharSequence, CharSequence>> it = flat.iteratorCharSequence();
        while (it.hasNext()) {
            if (it.next().getKey().toString().equalsIgnoreCase("a")) {
                it.remove();
            }
        }
        assertThat(fields(flat)).containsExactly("B: 2", "C: 4");
        assertThatThrownBy(it::next).isInstanceOf(java.util.NoSuchElementException.class);
    }

    @Test
    void validatingHeadersRefuseWhatNettysRefuse() {
        HttpHeaders netty = DefaultHttpHeadersFactory.headersFactory().newHeaders();
        HttpHeaders flat = FlatHttpHeaders.VALIDATING.newHeaders();
        String[] names = {"", "Bad Name", "Bad:Name", "Bad\u0000", "Caf\u00e9", "ok-Name_1!#$%&'*+.^`|~"};
        for (String name : names) {
            Throwable n = catchThrowable(() -> netty.add(name, "v"));
            Throwable f = catchThrowable(() -> flat.add(name, "v"));
            assertThat(f == null).as("name %s", name).isEqualTo(n == null);
            if (n != null) {
                assertThat(f).isInstanceOf(IllegalArgumentException.class).hasMessage(n.getMessage());
            }
        }
        for (String value : new String[] {"ok", "tab\tok", "bad\r\nvalue", "nul\u0000", "del\u007f", "obs\u00e9"}) {
            Throwable n = catchThrowable(() -> netty.set("X-V", value));
            Throwable f = catchThrowable(() -> flat.set("X-V", value));
            assertThat(f == null).as("value %s", value).isEqualTo(n == null);
            if (n != null) {
                assertThat(f).isInstanceOf(IllegalArgumentException.class).hasMessage(n.getMessage());
                assertThat(f.getCause()).hasMessage(n.getCause().getMessage());
            }
        }
        compare(netty, flat);
        assertThatThrownBy(() -> flat.add("X", (Object) null)).isInstanceOf(NullPointerException.class);
        assertThat(FlatHttpHeaders.UNVALIDATED.newHeaders().add("Bad Name", "v\r\n").size()).isEqualTo(1);
        assertThat(FlatHttpHeaders.UNVALIDATED.newEmptyHeaders().add("A", "1").add("B", "2").add("C", "3")
                       .getAll("b")).containsExactly("2");
    }

    @Test
    void aKnownNameIsSetAsSetSetsIt() {
        HttpHeaders netty = DefaultHttpHeadersFactory.headersFactory().newHeaders();
        HttpHeaders flat = FlatHttpHeaders.VALIDATING.newHeaders();
        for (HttpHeaders h : List.of(netty, flat)) {
            h.add("X-Real-IP", "10.0.0.1").add("Host", "a").add("x-real-ip", "10.0.0.2");
            FlatHttpHeaders.setKnownName(h, ForwardedHeaders.X_REAL_IP, "192.0.2.7");
            assertThatThrownBy(() -> FlatHttpHeaders.setKnownName(h, ForwardedHeaders.X_REAL_IP, "bad\r\nvalue"))
                .isInstanceOf(IllegalArgumentException.class); // the value is still checked
        }
        compare(netty, flat);
        assertThat(fields(flat)).containsExactly("Host: a", "x-real-ip: 192.0.2.7");
    }

    private static Throwable catchThrowable(Runnable r) {
        try {
            r.run();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
