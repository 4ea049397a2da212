package cumulo.lambda;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** The Lambda Runtime API over one keep-alive HTTP/1.1 connection (reconnects once if it drops). */
final class RuntimeApi {
    static final String PREFIX = "/2018-06-01/runtime/";

    /** One response: status, headers (names in lower case), body. */
    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        this.host = address.substring(0, colon);
        this.port = Integer.parseInt(address.substring(colon + 1));
    }

    Response next() throws IOException {
        return exchange("GET", "invocation/next", null, null);
    }

    Response post(String path, byte[] body, String errorType) throws IOException {
        return exchange("POST", path, body, errorType);
    }

    private Response exchange(String method, String path, byte[] body, String errorType) throws IOException {
        try {
            return once(method, path, body, errorType);
        } catch (IOException dropped) {
            close();
            return once(method, path, body, errorType);
        }
    }

    private Response once(String method, String path, byte[] body, String errorType) throws IOException {
        if (socket == null) {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(host, port));
            in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
            out = socket.getOutputStream();
        }
        byte[] payload = body == null ? new byte[0] : body;
        StringBuilder head = new StringBuilder(160);
        head.append(method).append(' ').append(PREFIX).append(path).append(" HTTP/1.1\r\nHost: runtime\r\n")
            .append("Content-Length: ").append(payload.length).append("\r\n");
        if (body != null) head.append("Content-Type: application/json\r\n");
        if (errorType != null) head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] request = new byte[headBytes.length + payload.length];
        System.arraycopy(headBytes, 0, request, 0, headBytes.length);
        System.arraycopy(payload, 0, request, headBytes.length, payload.length);
        out.write(request);
        out.flush();
        return read();
    }

    private Response read() throws IOException {
        String status = line();
        if (status == null) throw new IOException("Runtime API connection closed");
        Map<String, String> headers = new HashMap<>();
        String line;
        while ((line = line()) != null && !line.isEmpty()) {
            int colon = line.indexOf(':');
            if (colon > 0) headers.put(line.substring(0, colon).trim().toLowerCase(), line.substring(colon + 1).trim());
        }
        byte[] body;
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            while (true) {
                String size = line();
                int n = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (n == 0) {
                    while ((line = line()) != null && !line.isEmpty()) { /* trailers */ }
                    break;
                }
                all.write(exactly(n));
                line();
            }
            body = all.toByteArray();
        } else {
            body = exactly(Integer.parseInt(headers.getOrDefault("content-length", "0")));
        }
        String[] parts = status.split(" ");
        return new Response(Integer.parseInt(parts[1]), headers, body);
    }

    private byte[] exactly(int n) throws IOException {
        byte[] data = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(data, got, n - got);
            if (r < 0) throw new IOException("Runtime API connection closed");
            got += r;
        }
        return data;
    }

    private String line() throws IOException {
        StringBuilder s = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                int n = s.length();
                if (n > 0 && s.charAt(n - 1) == '\r') s.setLength(n - 1);
                return s.toString();
            }
            s.append((char) c);
        }
        return s.length() == 0 ? null : s.toString();
    }

    void close() {
        try {
            if (socket != null) socket.close();
        } catch (IOException ignored) {
            // already gone
        }
        socket = null;
    }
}
