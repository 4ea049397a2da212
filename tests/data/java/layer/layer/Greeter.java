package layer;

public class Greeter {
    public static String greet(String who) {
        return "hello from the " + who;
    }
}
