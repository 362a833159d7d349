package io.ferry.l7.http;

import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.HttpHeaderValidationUtil;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.AsciiString;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map.Entry;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * The header fields of an HTTP/1.1 message as the proxy handles them: names and values in two arrays, in the order
 * they came, found by a scan. A head has a few fields, each looked up a few times, so a scan that compares lengths
 * first costs less than hashing every name, and one object with two arrays is a fraction of what Netty's
 * {@code DefaultHttpHeaders} allocates (a 16-slot table, a head entry, an entry per field and two wrappers).
 *
 * <p>It behaves as {@code DefaultHttpHeaders} does: names match ignoring ASCII case; {@link #get} gives the first
 * value of a name and {@link #getAll} every value, in order; {@code set} removes every field of the name and adds
 * one at the end; values that are not a {@code CharSequence} are converted as Netty converts them (a {@code Date} to
 * an HTTP date, anything else by {@code toString}); {@link #containsValue} looks at comma-separated, trimmed
 * elements. Two answers differ: {@link #getTimeMillis} of a value that is no HTTP date is null (Netty's throws a
 * {@code ParseException}), and {@link #names} holds each spelling once (Netty's can hold a {@code String} and an
 * {@code AsciiString} of the same spelling). With validation (the request decoder's headers), a name must be a
 * token and a value must hold no control character but HTAB, checked by Netty's own rules with its messages, so a
 * request the decoder refused before is refused the same way.
 *
 * <p>Not thread-safe: one message, on one event loop.
 */
final class FlatHttpHeaders extends HttpHeaders {

    /** For the request decoder: names and values validated as they are added. */
    static final HttpHeadersFactory VALIDATING = new Factory(true);
    /** For heads a codec has already checked. */
    static final HttpHeadersFactory UNVALIDATED = new Factory(false);

    private static final CharSequence[] NONE = {};

    private final boolean validate;
    private CharSequence[] names;
    private CharSequence[] values;
    private int size;

    FlatHttpHeaders(boolean validate) {
        this(validate, 16);
    }

    private FlatHttpHeaders(boolean validate, int capacity) {
        this.validate = validate;
        this.names = capacity == 0 ? NONE : new CharSequence[capacity];
        this.values = capacity == 0 ? NONE : new CharSequence[capacity];
    }

    /** The name of field {@code i}, {@code 0 <= i < size()}, as it was added. */
    CharSequence nameAt(int i) {
        return names[i];
    }

    /** The value of field {@code i}, {@code 0 <= i < size()}, as it was added (or converted). */
    CharSequence valueAt(int i) {
        return values[i];
    }

    // ---- lookups -------------------------------------------------------------------------------------------------

    private int indexOf(CharSequence name, int from) {
        int n = name.length();
        CharSequence[] ns = names;
        for (int i = from, end = size; i < end; i++) {
            CharSequence k = ns[i];
            if (k.length() == n && (k == name || AsciiString.contentEqualsIgnoreCase(k, name))) {
                return i;
            }
        }
        return -1;
    }

    private CharSequence first(CharSequence name) {
        int i = indexOf(name, 0);
        return i < 0 ? null : values[i];
    }

    @Override
    public String get(String name) {
        return get((CharSequence) name);
    }

    @Override
    public String get(CharSequence name) {
        CharSequence v = first(name);
        return v == null ? null : v.toString();
    }

    @Override
    public Integer getInt(CharSequence name) {
        CharSequence v = first(name);
        if (v == null) {
            return null;
        }
        try {
            return v instanceof AsciiString ? ((AsciiString) v).parseInt() : Integer.parseInt(v.toString());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
        Integer v = getInt(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Short getShort(CharSequence name) {
        CharSequence v = first(name);
        if (v == null) {
            return null;
        }
        try {
            return v instanceof AsciiString ? ((AsciiString) v).parseShort() : Short.parseShort(v.toString());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
        Short v = getShort(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
        CharSequence v = first(name);
        if (v == null) {
            return null;
        }
        Date date = DateFormatter.parseHttpDate(v);
        return date == null ? null : date.getTime();
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
        Long v = getTimeMillis(name);
        return v == null ? defaultValue : v;
    }

    @Override
    public List<String> getAll(String name) {
        return getAll((CharSequence) name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
        int i = indexOf(name, 0);
        if (i < 0) {
            return Collections.emptyList();
        }
        int next = indexOf(name, i + 1);
        if (next < 0) {
            return Collections.singletonList(values[i].toString());
        }
        List<String> all = new ArrayList<>(4);
        all.add(values[i].toString());
        for (; next >= 0; next = indexOf(name, next + 1)) {
            all.add(values[next].toString());
        }
        return all;
    }

    @Override
    public Iterator<String> valueStringIterator(CharSequence name) {
        return getAll(name).iterator();
    }

    /** The values of {@code name}, the last added first, as Netty's {@code DefaultHttpHeaders} gives them. */
    @Override
    public Iterator<? extends CharSequence> valueCharSequenceIterator(CharSequence name) {
        List<CharSequence> all = new ArrayList<>(2);
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            all.add(0, values[i]);
        }
        return all.iterator();
    }

    @Override
    public boolean contains(String name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(CharSequence name) {
        return indexOf(name, 0) >= 0;
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
        return contains((CharSequence) name, (CharSequence) value, ignoreCase);
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(values[i], value)
                           : AsciiString.contentEquals(values[i], value)) {
                return true;
            }
        }
        return false;
    }

    /** As Netty's: whether a field of {@code name} has {@code value} as one of its comma-separated elements. */
    @Override
    public boolean containsValue(CharSequence name, CharSequence value, boolean ignoreCase) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
            if (hasElement(values[i], value, ignoreCase)) {
                return true;
            }
        }
        return false;
    }

    private static boolean hasElement(CharSequence list, CharSequence expected, boolean ignoreCase) {
        int n = list.length();
        int begin = 0;
        while (begin <= n) {
            int end = begin;
            while (end < n && list.charAt(end) != ',') {
                end++;
            }
            int b = begin;
            int e = end;
            while (b < e && list.charAt(b) <= ' ') {
                b++;
            }
            while (e > b && list.charAt(e - 1) <= ' ') {
                e--;
            }
            if (e - b == expected.length() && regionMatches(list, b, expected, ignoreCase)) {
                return true;
            }
            begin = end + 1;
        }
        return false;
    }

    private static boolean regionMatches(CharSequence s, int from, CharSequence expected, boolean ignoreCase) {
        for (int k = 0, n = expected.length(); k < n; k++) {
            char a = s.charAt(from + k);
            char b = expected.charAt(k);
            if (a != b && (!ignoreCase || toLower(a) != toLower(b))) {
                return false;
            }
        }
        return true;
    }

    private static char toLower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public Set<String> names() {
        Set<String> all = new LinkedHashSet<>(size * 2);
        for (int i = 0; i < size; i++) {
            all.add(names[i].toString());
        }
        return all;
    }

    @Override
    public List<Entry<String, String>> entries() {
        List<Entry<String, String>> all = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(names[i].toString(), values[i].toString()));
        }
        return all;
    }

    @Override
    public Iterator<Entry<String, String>> iterator() {
        return entries().iterator();
    }

    @Override
    public Iterator<Entry<CharSequence, CharSequence>> iteratorCharSequence() {
        return new Fields();
    }

    /** The fields in order; {@code remove} removes the last one returned. */
    private final class Fields implements Iterator<Entry<CharSequence, CharSequence>> {
        private int next;
        private int last = -1;

        @Override
        public boolean hasNext() {
            return next < size;
        }

        @Override
        public Entry<CharSequence, CharSequence> next() {
            if (next >= size) {
                throw new NoSuchElementException();
            }
            last = next++;
            return new AbstractMap.SimpleImmutableEntry<>(names[last], values[last]);
        }

        @Override
        public void remove() {
            if (last < 0) {
                throw new IllegalStateException();
            }
            removeAt(last);
            next = last;
            last = -1;
        }
    }

    // ---- changes -------------------------------------------------------------------------------------------------

    private CharSequence checkedName(CharSequence name) {
        if (name == null) {
            throw new NullPointerException("name");
        }
        if (validate) {
            if (name.length() == 0) {
                throw new IllegalArgumentException("empty headers are not allowed [" + name + ']');
            }
            int index = HttpHeaderValidationUtil.validateToken(name);
            if (index != -1) {
                throw new IllegalArgumentException("a header name can only contain \"token\" characters, "
                                                   + "but found invalid character 0x"
                                                   + Integer.toHexString(name.charAt(index)) + " at index " + index
                                                   + " of header '" + name + "'.");
            }
        }
        return name;
    }

    private CharSequence converted(CharSequence name, Object value) {
        if (value == null) {
            throw new NullPointerException("value");
        }
        CharSequence v;
        if (value instanceof CharSequence) {
            v = (CharSequence) value;
        } else if (value instanceof Date) {
            v = DateFormatter.format((Date) value);
        } else if (value instanceof Calendar) {
            v = DateFormatter.format(((Calendar) value).getTime());
        } else {
            v = value.toString();
        }
        if (validate) {
            int index = HttpHeaderValidationUtil.validateValidHeaderValue(v);
            if (index != -1) {
                throw new IllegalArgumentException("Validation failed for header '" + name + "'",
                    new IllegalArgumentException("a header value contains prohibited character 0x"
                                                 + Integer.toHexString(v.charAt(index)) + " at index " + index + '.'));
            }
        }
        return v;
    }

    private void append(CharSequence name, CharSequence value) {
        if (size == names.length) {
            int capacity = Math.max(8, size * 2);
            names = Arrays.copyOf(names, capacity);
            values = Arrays.copyOf(values, capacity);
        }
        names[size] = name;
        values[size] = value;
        size++;
    }

    /** Removes field {@code i}, {@code 0 <= i < size()}; the fields after it move up one. */
    void removeAt(int i) {
        int tail = size - i - 1;
        if (tail > 0) {
            System.arraycopy(names, i + 1, names, i, tail);
            System.arraycopy(values, i + 1, values, i, tail);
        }
        size--;
        names[size] = null;
        values[size] = null;
    }

    private void removeAll(CharSequence name) {
        for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i)) {
            removeAt(i);
        }
    }

    @Override
    public HttpHeaders add(String name, Object value) {
        return add((CharSequence) name, value);
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
        append(checkedName(name), converted(name, value));
        return this;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
        return add((CharSequence) name, values);
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
        checkedName(name);
        for (Object v : values) {
            append(name, converted(name, v));
        }
        return this;
    }

    @Override
    public HttpHeaders add(HttpHeaders headers) {
        if (headers == this) {
            throw new IllegalArgumentException("can't add to itself.");
        }
        Iterator<Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence();
        while (it.hasNext()) {
            Entry<CharSequence, CharSequence> e = it.next();
            add(e.getKey(), e.getValue());
        }
        return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
        return add(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
        return add(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders set(String name, Object value) {
        return set((CharSequence) name, value);
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
        CharSequence n = checkedName(name);
        CharSequence v = converted(name, value);
        removeAll(n);
        append(n, v);
        return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
        return set((CharSequence) name, values);
    }

    @Override
    public HttpHeaders set(CharSequence name, Iterable<?> values) {
        checkedName(name);
        removeAll(name);
        for (Object v : values) {
            append(name, converted(name, v));
        }
        return this;
    }

    @Override
    public HttpHeaders set(HttpHeaders headers) {
        if (headers != this) {
            clear();
            add(headers);
        }
        return this;
    }

    /**
     * {@code headers.set(name, value)} for a name that is one of the proxy's constants, known to be a token: when
     * {@code headers} are flat, the name is not validated again (the value still is, if they validate).
     */
    static void setKnownName(HttpHeaders headers, AsciiString name, CharSequence value) {
        if (headers.getClass() != FlatHttpHeaders.class) {
            headers.set(name, value);
            return;
        }
        FlatHttpHeaders flat = (FlatHttpHeaders) headers;
        CharSequence v = flat.converted(name, value);
        flat.removeAll(name);
        flat.append(name, v);
    }

    /**
     * Appends a field whose name is one of the proxy's constants, known to be a token, and which the caller has
     * already removed: no lookup, and the name is not validated again (the value still is, if these validate).
     */
    void appendKnown(AsciiString name, CharSequence value) {
        append(name, converted(name, value));
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
        return set(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
        return set(name, String.valueOf(value));
    }

    @Override
    public HttpHeaders remove(String name) {
        return remove((CharSequence) name);
    }

    @Override
    public HttpHeaders remove(CharSequence name) {
        removeAll(name);
        return this;
    }

    @Override
    public HttpHeaders clear() {
        Arrays.fill(names, 0, size, null);
        Arrays.fill(values, 0, size, null);
        size = 0;
        return this;
    }

    @Override
    public HttpHeaders copy() {
        FlatHttpHeaders copy = new FlatHttpHeaders(validate, Math.max(size, 8));
        System.arraycopy(names, 0, copy.names, 0, size);
        System.arraycopy(values, 0, copy.values, 0, size);
        copy.size = size;
        return copy;
    }

    private static final class Factory implements HttpHeadersFactory {
        private final boolean validate;

        Factory(boolean validate) {
            this.validate = validate;
        }

        @Override
        public HttpHeaders newHeaders() {
            return new FlatHttpHeaders(validate);
        }

        @Override
        public HttpHeaders newEmptyHeaders() {
            return new FlatHttpHeaders(validate, 0);
        }
    }
}
