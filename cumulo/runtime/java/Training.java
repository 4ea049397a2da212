package cumulo.lambda;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The run Cumulo records the loaded classes of, to build the class data sharing archive of this
 * runtime for a JDK: a few events through a Runtime API served on a local port, as a function's
 * first events would go (JSON both ways, a POJO, an error with its stack trace).
 */
public final class Training {
    /** A POJO answer: getters and a public field. */
    public static final class Answer {
        public String greeting;
        private List<Object> items;

        public List<Object> getItems() {
            return items;
        }

        public void setItems(List<Object> items) {
            this.items = items;
        }
    }

    public Answer handle(Map<String, Object> event) {
        if (event.containsKey("fail")) throw new IllegalStateException("training error");
        Answer answer = new Answer();
        answer.greeting = "hello " + event.get("name");
        @SuppressWarnings("unchecked") List<Object> items = (List<Object>) event.get("items");
        answer.setItems(items);
        return answer;
    }

    static void run() throws Exception {
        ServerSocket server = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
        Thread api = new Thread(new Runnable() {
            @Override
            public void run() {
                serve(server);
            }
        }, "training-api");
        api.setDaemon(true);
        api.start();
        Object probe = java.lang.reflect.Proxy.newProxyInstance(Training.class.getClassLoader(),
                new Class<?>[] {Runnable.class}, new java.lang.reflect.InvocationHandler() {
                    @Override
                    public Object invoke(Object proxy, java.lang.reflect.Method method, Object[] args) {
                        return null;
                    }
                });
        ((Runnable) probe).run();
        ClassLoader loader = LambdaRuntime.functionClassLoader(System.getProperty("java.io.tmpdir"), "/nonexistent");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        LambdaRuntime runtime = new LambdaRuntime(new RuntimeApi("127.0.0.1:" + server.getLocalPort()),
                System.getenv(), log, true);
        runtime.run(Training.class.getName() + "::handle", Training.class.getClassLoader());
        loader.getResource("nothing");
    }

    private static void serve(ServerSocket server) {
        String[] events = {
            "{\"name\":\"cds\",\"items\":[1,2.5,true,null,\"x\",{\"k\":[]}]}",
            "{\"fail\":true}",
            "\"not an object\"",
        };
        try (Socket socket = server.accept()) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            int served = 0;
            while (true) {
                String head = head(in);
                if (head == null) return;
                int length = 0;
                for (String line : head.split("\r\n")) {
                    if (line.toLowerCase().startsWith("content-length:")) length = Integer.parseInt(line.substring(15).trim());
                }
                in.readNBytes(length);
                if (head.startsWith("GET")) {
                    if (served == events.length) return;
                    byte[] body = events[served].getBytes(StandardCharsets.UTF_8);
                    String id = "training-" + served++;
                    out.write(("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: " + id
                            + "\r\nLambda-Runtime-Deadline-Ms: " + (System.currentTimeMillis() + 60000)
                            + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
                    out.write(body);
                } else {
                    out.write("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                            .getBytes(StandardCharsets.ISO_8859_1));
                }
                out.flush();
            }
        } catch (IOException ignored) {
            // the runtime went away: training is over
        } finally {
            try {
                server.close();  // the runtime's reconnection attempt fails: its loop ends
            } catch (IOException ignored) {
                // closed already
            }
        }
    }

    private static String head(InputStream in) throws IOException {
        StringBuilder s = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            s.append((char) c);
            if (s.length() >= 4 && s.substring(s.length() - 4).equals("\r\n\r\n")) return s.toString();
        }
        return null;
    }
}
