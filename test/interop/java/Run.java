// The Java rows of authserver's interop suite (test/interop): the JDK 17
// standard library's two HTTP clients, each used with its defaults, and an
// access-token verifier on the JDK's own crypto (KeyFactory, Signature).
//
// Run with the JDK's single-file source launcher, as interop_test.go does:
//
//   java -cp /usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar Run.java
//
// The launcher compiles this file in memory on each start (about a second):
// no build step, no class files to keep current or clean up, like the Node
// and Python runners. It needs a JDK (javac's jdk.compiler module), not a
// JRE alone. JSON is Debian's Jackson (libjackson2-databind-java): Maven
// Central is not reachable here, and the JDK has no JSON parser.
//
// Line protocol on stdin/stdout, as python/run.py: the job as the first
// JSON line; one JSON line of versions; one JSON line per row result;
// {"done":"before"}; then {"phase":"after","token"} for the rows that
// follow a key rotation, answered by {"done":"after"}.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.EdECPoint;
import java.security.spec.EdECPublicKeySpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.RSAPublicKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public class Run {
    static final String HTTP_CLIENT = "java.net.http.HttpClient";
    static final String URL_CONNECTION = "java.net.HttpURLConnection";
    static final String DELEGATED = "urn:authserver:params:oauth:grant-type:delegated";
    static final Duration TIMEOUT = Duration.ofSeconds(20); // per HTTP request

    static final ObjectMapper JSON = new ObjectMapper();

    /** A failed check of a row; its message is the row's error. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    static void must(boolean cond, String message) throws Failure {
        if (!cond) {
            throw new Failure(message);
        }
    }

    static synchronized void emit(Map<String, Object> v) {
        try {
            System.out.println(JSON.writeValueAsString(v));
            System.out.flush();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    static String describe(Throwable err) {
        String text = err instanceof Failure ? err.getMessage() : err.getClass().getSimpleName() + ": " + err.getMessage();
        for (Throwable c = err.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            text += "; caused by " + c.getClass().getSimpleName() + ": " + c.getMessage();
        }
        return text;
    }

    static String clip(String s) {
        return s.length() > 500 ? s.substring(0, 500) : s;
    }

    static byte[] b64url(String s) {
        return Base64.getUrlDecoder().decode(s);
    }

    static JsonNode payload(String token) throws IOException, Failure {
        String[] parts = token.split("\\.");
        must(parts.length == 3, "not a compact JWS: " + parts.length + " parts");
        return JSON.readTree(b64url(parts[1]));
    }

    static String form(String... kv) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < kv.length; i += 2) {
            if (b.length() > 0) {
                b.append('&');
            }
            b.append(URLEncoder.encode(kv[i], StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(kv[i + 1], StandardCharsets.UTF_8));
        }
        return b.toString();
    }

    /** HTTP Basic as RFC 6749 §2.3.1 has it: client_id and secret form-urlencoded, then base64. */
    static String basic(JsonNode job) {
        String pair = URLEncoder.encode(job.get("client_id").asText(), StandardCharsets.UTF_8) + ":"
                + URLEncoder.encode(job.get("client_secret").asText(), StandardCharsets.UTF_8);
        return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }

    /** What a request answered: its status and body. */
    record Answer(int status, String body) {
        JsonNode json(String what) throws Failure, IOException {
            must(status == 200, what + ": HTTP " + status + ": " + clip(body));
            JsonNode n = JSON.readTree(body);
            must(n != null && n.isObject(), what + ": not a JSON object: " + clip(body));
            return n;
        }
    }

    /**
     * The HTTP side of the OAuth rows: one implementation per library, so
     * that the rows below are the same for both and differ only in the
     * requests each library sends.
     */
    interface Http {
        Answer get(String url) throws Exception;

        /** POSTs body (null: none) with the headers given as name, value pairs. */
        Answer post(String url, String body, String... headers) throws Exception;
    }

    /**
     * java.net.http.HttpClient with its defaults: version HTTP_2, so on an
     * http:// URL each request carries an h2c upgrade (Connection: Upgrade,
     * HTTP2-Settings; Upgrade: h2c; HTTP2-Settings). It sets no
     * Content-Type: a developer sets it for a form, as here.
     */
    static final class JavaNetHttp implements Http {
        final HttpClient client = HttpClient.newHttpClient();

        public Answer get(String url) throws Exception {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).GET().build();
            HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
            return new Answer(res.statusCode(), res.body());
        }

        public Answer post(String url, String body, String... headers) throws Exception {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT);
            if (body != null) {
                b.header("Content-Type", "application/x-www-form-urlencoded");
                b.POST(HttpRequest.BodyPublishers.ofString(body));
            } else {
                b.POST(HttpRequest.BodyPublishers.noBody());
            }
            for (int i = 0; i < headers.length; i += 2) {
                b.header(headers[i], headers[i + 1]);
            }
            HttpResponse<String> res = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(res.statusCode(), res.body());
        }
    }

    /**
     * HttpURLConnection with its defaults: Accept: text/html, image/gif,
     * image/jpeg, *&#47;*; q=0.2 (JDK 17.0.15; older builds sent
     * "*; q=.2, *&#47;*; q=.2"), and for a POST with a body the Content-Type
     * it sets itself (application/x-www-form-urlencoded): the rows set no
     * Accept and no Content-Type. A POST without a body (/getprofile) goes
     * out without Content-Length, as HttpURLConnection sends it.
     */
    static final class UrlConnection implements Http {
        HttpURLConnection open(String url) throws IOException {
            HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
            c.setConnectTimeout((int) TIMEOUT.toMillis());
            c.setReadTimeout((int) TIMEOUT.toMillis());
            return c;
        }

        Answer read(HttpURLConnection c) throws IOException {
            int status = c.getResponseCode();
            InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
            String body = "";
            if (in != null) {
                try (in) {
                    body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
            }
            return new Answer(status, body);
        }

        public Answer get(String url) throws Exception {
            HttpURLConnection c = open(url);
            try {
                return read(c);
            } finally {
                c.disconnect();
            }
        }

        public Answer post(String url, String body, String... headers) throws Exception {
            HttpURLConnection c = open(url);
            try {
                c.setRequestMethod("POST");
                for (int i = 0; i < headers.length; i += 2) {
                    c.setRequestProperty(headers[i], headers[i + 1]);
                }
                if (body != null) {
                    c.setDoOutput(true);
                    try (OutputStream out = c.getOutputStream()) {
                        out.write(body.getBytes(StandardCharsets.UTF_8));
                    }
                }
                return read(c);
            } finally {
                c.disconnect();
            }
        }
    }

    // --- the OAuth rows, on either library ---------------------------------

    static Map<String, Object> discovery(Http http, JsonNode job) throws Exception {
        String issuer = job.get("issuer").asText();
        JsonNode md = http.get(issuer + "/.well-known/oauth-authorization-server").json("metadata");
        for (String k : new String[] {"token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"}) {
            must(job.get(k).asText().equals(md.path(k).asText(null)),
                    "the metadata names " + k + " " + md.get(k) + ", want " + job.get(k));
        }
        must(issuer.equals(md.path("issuer").asText(null)), "the metadata names issuer " + md.get("issuer") + ", want " + issuer);
        return Map.of();
    }

    /** A client credentials grant; basic or client_secret_post. Returns the bearer token. */
    static String token(Http http, JsonNode job, boolean basic) throws Exception {
        String scope = job.get("scope").asText();
        Answer a = basic
                ? http.post(job.get("token_endpoint").asText(), form("grant_type", "client_credentials", "scope", scope),
                        "Authorization", basic(job))
                : http.post(job.get("token_endpoint").asText(), form("grant_type", "client_credentials", "scope", scope,
                        "client_id", job.get("client_id").asText(), "client_secret", job.get("client_secret").asText()));
        JsonNode t = a.json("token");
        String tok = t.path("access_token").asText("");
        must(!tok.isEmpty() && "bearer".equalsIgnoreCase(t.path("token_type").asText()),
                "token response without a bearer access_token: " + clip(a.body()));
        return tok;
    }

    static JsonNode introspect(Http http, JsonNode job, String tok) throws Exception {
        return http.post(job.get("introspection_endpoint").asText(), form("token", tok), "Authorization", basic(job))
                .json("introspection");
    }

    static Map<String, Object> introspectRow(Http http, JsonNode job) throws Exception {
        JsonNode r = introspect(http, job, token(http, job, true));
        must(r.path("active").isBoolean() && r.get("active").asBoolean()
                && job.get("client_id").asText().equals(r.path("client_id").asText(null)), "introspection: " + r);
        return Map.of();
    }

    static Map<String, Object> revokeRow(Http http, JsonNode job) throws Exception {
        String tok = token(http, job, true);
        Answer a = http.post(job.get("revocation_endpoint").asText(), form("token", tok), "Authorization", basic(job));
        must(a.status() == 200, "revocation: HTTP " + a.status() + ": " + clip(a.body()));
        JsonNode r = introspect(http, job, tok);
        must(r.path("active").isBoolean() && !r.get("active").asBoolean(), "a revoked token introspects as " + r);
        return Map.of();
    }

    /** The same flow as python/run.py's requests row. */
    static Map<String, Object> delegated(Http http, JsonNode job) throws Exception {
        JsonNode t = http.post(job.get("customer_authenticate_endpoint").asText(),
                form("grant_type", DELEGATED, "customer_id", job.get("customer_id").asText()),
                "Authorization", basic(job)).json("customer_authenticate");
        String tok = t.path("access_token").asText("");
        must(!tok.isEmpty() && "bearer".equalsIgnoreCase(t.path("token_type").asText()), "customer_authenticate answered " + t);
        JsonNode profile = http.post(job.get("getprofile_endpoint").asText(), null,
                "Authorization", "Bearer " + tok, "X-API-Key", job.get("client_id").asText()).json("getprofile");
        must(profile.path("customer").asText("").equals(payload(tok).path("sub").asText(null)), "getprofile answered " + profile);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("token", tok);
        return out;
    }

    interface RowFn {
        Map<String, Object> run(Http http, JsonNode job) throws Exception;
    }

    static final Map<String, RowFn> OAUTH_ROWS = Map.of(
            "discovery", Run::discovery,
            "cc-basic", (h, j) -> tokenRow(h, j, true),
            "cc-post", (h, j) -> tokenRow(h, j, false),
            "introspect", Run::introspectRow,
            "revoke", Run::revokeRow,
            "delegated-getprofile", Run::delegated);

    static Map<String, Object> tokenRow(Http http, JsonNode job, boolean basic) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("token", token(http, job, basic));
        return out;
    }

    static final Map<String, Http> LIBRARIES = Map.of(HTTP_CLIENT, new JavaNetHttp(), URL_CONNECTION, new UrlConnection());

    // --- the verifier: JWKS over HttpClient, keys and signatures by the JDK --

    /**
     * Verifies access tokens against the server's JWKS, fetched with
     * HttpClient and cached by kid; an unknown kid refetches the JWKS once
     * (what verify-rotated tests). Keys are built with the JDK's
     * KeyFactory, signatures checked with java.security.Signature.
     */
    static final class Verifier {
        final HttpClient client = HttpClient.newHttpClient();
        final JsonNode job;
        final Map<String, PublicKey> keys = new ConcurrentHashMap<>();
        volatile int fetches;

        Verifier(JsonNode job) {
            this.job = job;
        }

        synchronized void fetch() throws Exception {
            HttpRequest req = HttpRequest.newBuilder(URI.create(job.get("jwks_uri").asText())).timeout(TIMEOUT).GET().build();
            HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
            JsonNode set = new Answer(res.statusCode(), res.body()).json("jwks");
            must(set.path("keys").isArray(), "the JWKS has no keys array: " + clip(res.body()));
            keys.clear();
            for (JsonNode k : set.get("keys")) {
                String kid = k.path("kid").asText("");
                if (!kid.isEmpty() && (!k.has("use") || "sig".equals(k.get("use").asText()))) {
                    keys.put(kid, publicKey(k));
                }
            }
            fetches++;
        }

        static PublicKey publicKey(JsonNode k) throws Exception {
            switch (k.path("kty").asText()) {
                case "RSA":
                    return KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(
                            new BigInteger(1, b64url(k.get("n").asText())), new BigInteger(1, b64url(k.get("e").asText()))));
                case "EC": {
                    must("P-256".equals(k.path("crv").asText()), "unsupported EC curve " + k.get("crv"));
                    AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
                    p.init(new ECGenParameterSpec("secp256r1"));
                    ECPoint w = new ECPoint(new BigInteger(1, b64url(k.get("x").asText())), new BigInteger(1, b64url(k.get("y").asText())));
                    return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, p.getParameterSpec(ECParameterSpec.class)));
                }
                case "OKP": {
                    must("Ed25519".equals(k.path("crv").asText()), "unsupported OKP curve " + k.get("crv"));
                    // RFC 8037 x is RFC 8032's encoding: y little-endian, the
                    // high bit of the last byte the parity of x.
                    byte[] x = b64url(k.get("x").asText());
                    must(x.length == 32, "an Ed25519 x of " + x.length + " bytes");
                    boolean xOdd = (x[31] & 0x80) != 0;
                    byte[] be = new byte[32];
                    for (int i = 0; i < 32; i++) {
                        be[i] = x[31 - i];
                    }
                    be[0] &= 0x7f;
                    return KeyFactory.getInstance("Ed25519").generatePublic(
                            new EdECPublicKeySpec(NamedParameterSpec.ED25519, new EdECPoint(xOdd, new BigInteger(1, be))));
                }
                default:
                    throw new Failure("unsupported kty " + k.get("kty"));
            }
        }

        static final Map<String, String> SIGNATURES = Map.of(
                "RS256", "SHA256withRSA", "ES256", "SHA256withECDSAinP1363Format", "EdDSA", "Ed25519");

        /** Returns the token's claims, or throws why it is refused; detail gets what happened. */
        Map<String, Object> verify(String token, List<String> detail) throws Exception {
            String[] parts = token.split("\\.");
            must(parts.length == 3, "not a compact JWS: " + parts.length + " parts");
            JsonNode h = JSON.readTree(b64url(parts[0]));
            String alg = h.path("alg").asText(""), kid = h.path("kid").asText("");
            must(alg.equals(job.get("server_alg").asText()), "alg " + h.get("alg") + ", want " + job.get("server_alg"));
            String typ = h.path("typ").asText("");
            must(typ.equalsIgnoreCase("at+jwt") || typ.equalsIgnoreCase("application/at+jwt"), "typ " + h.get("typ") + ", want at+jwt");
            must(!kid.isEmpty(), "the token has no kid");
            if (keys.isEmpty()) {
                fetch();
            }
            PublicKey key = keys.get(kid);
            if (key == null) {
                fetch();
                key = keys.get(kid);
                must(key != null, "no key of kid " + kid + " in the JWKS, refetched");
                detail.add("unknown kid " + kid + ": refetched the JWKS (" + fetches + " fetches in all)");
            }
            Signature sig = Signature.getInstance(SIGNATURES.get(alg));
            sig.initVerify(key);
            sig.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            must(sig.verify(b64url(parts[2])), "the signature does not verify with key " + kid);

            JsonNode c = JSON.readTree(b64url(parts[1]));
            must(c != null && c.isObject(), "the payload is not a JSON object");
            must(job.get("issuer").asText().equals(c.path("iss").asText(null)), "iss " + c.get("iss") + ", want " + job.get("issuer"));
            JsonNode aud = c.path("aud");
            String want = job.get("audience").asText();
            boolean audOK = aud.isTextual() ? want.equals(aud.asText()) : false;
            if (aud.isArray()) {
                for (JsonNode a : aud) {
                    audOK |= want.equals(a.asText());
                }
            }
            must(audOK, "aud " + aud + ", want " + want);
            long now = System.currentTimeMillis() / 1000;
            must(c.path("exp").isNumber(), "no exp");
            must(c.get("exp").asLong() > now, "expired: exp " + c.get("exp") + ", now " + now);
            must(!c.has("nbf") || c.get("nbf").asLong() <= now, "not yet valid: nbf " + c.get("nbf"));
            @SuppressWarnings("unchecked")
            Map<String, Object> claims = JSON.convertValue(c, LinkedHashMap.class);
            return claims;
        }
    }

    static final Map<String, Verifier> verifiers = new ConcurrentHashMap<>();

    static Map<String, Object> verifyRow(JsonNode job, JsonNode row, String token) throws Exception {
        String lib = row.get("library").asText();
        must(lib.equals(HTTP_CLIENT), "Run.java has no verifier for " + lib);
        Verifier v;
        if (row.get("scenario").asText().equals("verify")) {
            v = new Verifier(job);
            verifiers.put(lib, v);
        } else {
            v = verifiers.get(lib);
            must(v != null, "the verify row set up no verifier");
        }
        long start = System.nanoTime();
        long deadline = start + row.path("retry_seconds").asLong(0) * 1_000_000_000L;
        while (true) {
            List<String> detail = new ArrayList<>();
            try {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("claims", v.verify(token, detail));
                if (row.path("retry_seconds").asLong(0) > 0) {
                    detail.add("accepted after " + (System.nanoTime() - start) / 1_000_000_000L + " s");
                }
                if (!detail.isEmpty()) {
                    out.put("detail", String.join("; ", detail));
                }
                return out;
            } catch (Exception e) {
                if (System.nanoTime() >= deadline) {
                    throw e;
                }
                Thread.sleep(1000);
            }
        }
    }

    static void runRow(JsonNode job, JsonNode row, String token) {
        String lib = row.path("library").asText(), sc = row.path("scenario").asText();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("library", lib);
        out.put("scenario", sc);
        try {
            Map<String, Object> res;
            if (sc.equals("verify") || sc.equals("verify-rotated")) {
                res = verifyRow(job, row, token);
            } else {
                Http http = LIBRARIES.get(lib);
                RowFn f = OAUTH_ROWS.get(sc);
                must(http != null && f != null, "Run.java has no row " + lib + " " + sc);
                res = f.run(http, job);
            }
            out.put("ok", true);
            out.putAll(res);
        } catch (Throwable err) { // every failure is a row result
            out.put("ok", false);
            out.put("error", describe(err));
        }
        emit(out);
    }

    static void runAll(ExecutorService pool, JsonNode job, List<JsonNode> rows, String token) throws Exception {
        List<Future<?>> fs = new ArrayList<>();
        for (JsonNode r : rows) {
            fs.add(pool.submit(() -> runRow(job, r, token)));
        }
        for (Future<?> f : fs) {
            f.get();
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String first = in.readLine();
        if (first == null) {
            System.exit(2);
        }
        JsonNode job = JSON.readTree(first);
        String jdk = Runtime.version().toString();
        Map<String, Object> hello = new LinkedHashMap<>();
        hello.put("runtime", System.getProperty("java.vm.name") + " " + jdk + "; Jackson "
                + com.fasterxml.jackson.databind.cfg.PackageVersion.VERSION + " (the runner's JSON)");
        Map<String, String> versions = new HashMap<>();
        versions.put(HTTP_CLIENT, "JDK " + jdk);
        versions.put(URL_CONNECTION, "JDK " + jdk);
        hello.put("versions", versions);
        emit(hello);

        List<JsonNode> before = new ArrayList<>(), after = new ArrayList<>();
        for (JsonNode r : job.path("rows")) {
            (r.path("scenario").asText().equals("verify-rotated") ? after : before).add(r);
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            runAll(pool, job, before, job.get("token").asText());
            emit(Map.of("done", "before"));
            String second = in.readLine();
            if (second == null) {
                return;
            }
            JsonNode next = JSON.readTree(second);
            if (!"after".equals(next.path("phase").asText())) {
                throw new IllegalStateException("want the after phase, got " + second);
            }
            runAll(pool, job, after, next.get("token").asText());
            emit(Map.of("done", "after"));
            while (in.readLine() != null) {
                // until stdin closes, as the other runners
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
