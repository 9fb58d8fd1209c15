package org.stormrs.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;

/** Small crash-safe file writes the tests read results from (write a temp file, then rename). */
final class Files {
    private Files() {}

    static void write(String dir, String name, String text) {
        try {
            Path d = Paths.get(dir);
            java.nio.file.Files.createDirectories(d);
            Path tmp = d.resolve("." + name + ".tmp");
            java.nio.file.Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
            java.nio.file.Files.move(tmp, d.resolve(name), StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static boolean exists(String dir, String name) {
        return java.nio.file.Files.exists(Paths.get(dir, name));
    }
}
