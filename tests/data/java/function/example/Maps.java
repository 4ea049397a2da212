package example;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class Maps {
    public static Map<String, Object> handle(Map<String, Object> event) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("keys", new ArrayList<>(event.keySet()));
        out.put("countType", event.get("count").getClass().getSimpleName());
        out.put("bigType", event.get("big").getClass().getSimpleName());
        out.put("ratio", event.get("ratio"));
        out.put("nested", event.get("nested"));
        out.put("text", "quote \" and \u00e9");
        return out;
    }
}
