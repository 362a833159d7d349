package io.ferry.control.compile;

import static java.util.Objects.requireNonNull;

import java.util.AbstractList;
import java.util.List;
import java.util.RandomAccess;

/**
 * An immutable list of the {@code toString()} of other objects, made on access rather than at compile time: the
 * {@code /config_dump} views name every endpoint and listener of the cluster, and are read far less often than
 * they are compiled.
 *
 * <p>The items must be immutable (such as {@link io.ferry.l4.Endpoint}s and {@link io.ferry.l4.ListenerKey}s) and
 * their list must not change once handed over. Equal, as a {@code List}, to a list of the same strings.
 */
final class TextList extends AbstractList<String> implements RandomAccess {

    private final List<?> items;

    private TextList(List<?> items) {
        this.items = items;
    }

    /** The strings of {@code items}, made when read; {@code items} must not change from now on. */
    static List<String> of(List<?> items) {
        return items.isEmpty() ? List.of() : new TextList(requireNonNull(items, "items"));
    }

    /** {@code list} itself when it is a {@code TextList}, else {@link List#copyOf(java.util.Collection)}. */
    static List<String> copyOf(List<String> list) {
        return list instanceof TextList ? list : List.copyOf(list);
    }

    @Override
    public String get(int index) {
        return items.get(index).toString();
    }

    @Override
    public int size() {
        return items.size();
    }
}
