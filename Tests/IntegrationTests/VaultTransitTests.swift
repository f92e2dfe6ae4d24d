import AltoKeys
import AltoTestSupport
import Foundation
import Testing

/// What a real Transit server never answers, from a stand-in that misbehaves on purpose: a data key of the wrong
/// length, an answer that is not JSON, a server error, a server that does not answer in time, one that is not
/// there. Each is an error of the provider, never a wrong key. The real server is checked in `OpenBaoTransitTests`.
@Suite(.timeLimit(.minutes(3))) struct VaultTransitTests {
    /// Answers by the key's prefix: `short-` hands out 16-byte keys, `garbage-` answers HTML, `broken-` fails
    /// with 500, `slow-` never answers; creating a key always succeeds.
    static let standIn = #"""
import base64, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Misbehaving(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args): pass

    def answer(self, status, data, kind="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.strip("/").split("/")
        name = parts[-1]
        if parts[2] == "keys":
            return self.answer(204, b"")
        if name.startswith("slow-"):
            time.sleep(30)
        if name.startswith("broken-"):
            return self.answer(500, json.dumps({"errors": ["internal error"]}).encode())
        if name.startswith("garbage-"):
            return self.answer(200, b"<html>maintenance</html>", "text/html")
        short = base64.b64encode(bytes(16)).decode()
        return self.answer(200, json.dumps({"data": {"plaintext": short, "ciphertext": "vault:v1:AAAA"}}).encode())

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Misbehaving).serve_forever()
"""#

    @Test func aMisbehavingServerIsAnErrorNeverAKey() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alto-vault-\(UUID().uuidString)")
        let server = try await PeerServer(["python3", "-c", Self.standIn, "{port}"], name: "transit", logFolder: folder)
        defer {
            server.stop()
            try? FileManager.default.removeItem(at: folder)
        }
        let address = "http://127.0.0.1:\(server.port)"
        func provider(_ prefix: String) -> VaultTransitProvider {
            VaultTransitProvider(address: address, token: "test-token", keyPrefix: prefix, timeout: .seconds(2))
        }
        let tenant = UUID()
        let short = await #expect(throws: KeyError.self) { _ = try await provider("short-").generateDataKey(tenant: tenant) }
        #expect(short?.code == .refused && short?.message.contains("256-bit") == true)
        let shortUnwrap = await #expect(throws: KeyError.self) { _ = try await provider("short-").unwrapDataKey("vault:v1:AAAA", tenant: tenant) }
        #expect(shortUnwrap?.code == .invalidCiphertext)
        let garbage = await #expect(throws: KeyError.self) { _ = try await provider("garbage-").encrypt([1], tenant: tenant) }
        #expect(garbage?.code == .refused)
        let broken = await #expect(throws: KeyError.self) { _ = try await provider("broken-").decrypt("vault:v1:AAAA", tenant: tenant) }
        #expect(broken?.code == .unavailable && broken?.message.contains("internal error") == true)
        let started = ContinuousClock.now
        let slow = await #expect(throws: KeyError.self) { _ = try await provider("slow-").decrypt("vault:v1:AAAA", tenant: tenant) }
        #expect(slow?.code == .unavailable)
        #expect(ContinuousClock.now - started < .seconds(20), "a server that does not answer fails within the timeout")
        let local = await #expect(throws: KeyError.self) { _ = try await provider("short-").decrypt("alto:v1:AAAA", tenant: tenant) }
        #expect(local?.code == .invalidCiphertext, "another provider's ciphertext is never sent to Vault")
    }

    @Test func anUnreachableVaultIsUnavailable() async throws {
        let gone = VaultTransitProvider(address: "http://127.0.0.1:\(PeerServer.freePort())", token: "test-token", timeout: .seconds(2))
        let unavailable = await #expect(throws: KeyError.self) { _ = try await gone.encrypt([1, 2, 3], tenant: UUID()) }
        #expect(unavailable?.code == .unavailable)
    }
}
