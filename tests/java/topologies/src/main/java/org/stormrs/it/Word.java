package org.stormrs.it;

import java.io.Serializable;

/** A user's own tuple value type (not one of Storm's plain types, not registered with Kryo). */
public final class Word implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String text;

    public Word(String text) {
        this.text = text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Word && ((Word) o).text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + 7;
    }

    @Override
    public String toString() {
        return text;
    }
}
