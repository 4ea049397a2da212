package example;

import java.io.IOException;
import java.util.Map;

public class Fails {
    public String handle(Map<String, Object> event) {
        throw new IllegalStateException("boom", new IOException("disk on fire"));
    }
}
