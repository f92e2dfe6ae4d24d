import AltoTestSupport
import AltoTiering
import Foundation
import Testing

/// Azure Blob's Shared Key signatures, checked against Microsoft's own Python SDK (azure-storage-blob), which signs
/// the same requests. No Azure-compatible server installs here (Azurite comes from npm), so the store's requests
/// are checked by their signatures, not against a server, and its listing against a stand-in that answers List
/// Blobs the way Azure's documentation gives it.
@Suite struct AzureSharedKeyTests {
    static let account = "altotier2"
    static let key = Data((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).base64EncodedString()

    /// (method, path as sent, decoded query, headers)
    static let requests: [(String, String, [(String, String)], [(String, String)])] = [
        ("PUT", "/tier2/fileserver/cust/2025/10/28/7-" + SigV4Signer.encode("Q1 report ü, final.pdf"),
         [("comp", "block"), ("blockid", "YWx0by1ibG9jay0wMDAwMDAwMQ==")],
         [("x-ms-date", "Tue, 28 Oct 2025 00:05:00 GMT"), ("x-ms-version", "2021-12-02"), ("Content-Length", "8388608")]),
        ("PUT", "/tier2/fileserver/a.bin", [("comp", "blocklist")],
         [("x-ms-date", "Tue, 28 Oct 2025 00:05:01 GMT"), ("x-ms-version", "2021-12-02"), ("Content-Length", "120"),
          ("x-ms-meta-alto_original_path", "%2Fsrv%2Fshare%2Fa.bin"), ("x-ms-meta-alto_sha256", "00ff"), ("Content-Type", "application/xml")]),
        ("GET", "/tier2/fileserver/a.bin", [],
         [("x-ms-date", "Tue, 28 Oct 2025 00:05:02 GMT"), ("x-ms-version", "2021-12-02")]),
        ("PUT", "/tier2/empty", [], [("x-ms-date", "Tue, 28 Oct 2025 00:05:03 GMT"), ("x-ms-version", "2021-12-02"),
                                     ("x-ms-blob-type", "BlockBlob"), ("Content-Length", "0")]),
    ]

    @Test(arguments: requests.indices) func signaturesMatchTheAzureSDK(_ index: Int) async throws {
        let (method, path, query, headers) = Self.requests[index]
        let ours = try AzureSharedKeySigner(account: Self.account, base64Key: Self.key)
            .authorization(method: method, path: path, query: query, headers: headers)
        let url = "https://\(Self.account).blob.core.windows.net\(path)"
            + (query.isEmpty ? "" : "?" + query.map { "\($0.0)=\(SigV4Signer.encode($0.1))" }.joined(separator: "&"))
        let headerLiteral = "{" + headers.map { "\(String(reflecting: $0.0)): \(String(reflecting: $0.1))" }.joined(separator: ", ") + "}"
        let theirs = try await PeerServer.python("""
            from azure.core.pipeline import PipelineContext, PipelineRequest
            from azure.core.pipeline.transport import HttpRequest
            from azure.storage.blob._shared.authentication import SharedKeyCredentialPolicy
            request = HttpRequest(\(String(reflecting: method)), \(String(reflecting: url)))
            request.headers.update(\(headerLiteral))
            SharedKeyCredentialPolicy(\(String(reflecting: Self.account)), \(String(reflecting: Self.key))).on_request(
                PipelineRequest(request, PipelineContext(None)))
            print(request.headers['Authorization'])
            """)
        #expect(ours == theirs)
    }

    /// Answers List Blobs in two pages, the second after the first's `NextMarker`, with names that need XML's
    /// escapes; refuses a request without Shared Key authorization or for another prefix.
    static let listingStandIn = #"""
        import http.server, sys, urllib.parse
        PAGES = {
            '': ('<Blob><Name>fileserver/cust/2026/a&amp;b.bin</Name><Properties><Last-Modified>Wed, 02 Dec 2026 10:00:00 GMT</Last-Modified>'
                 '<Content-Length>12</Content-Length></Properties></Blob>'
                 '<Blob><Name>fileserver/cust/2026/caf&#233; &lt;1&gt;.bin</Name><Properties><Content-Length>0</Content-Length></Properties></Blob>', 'm1'),
            'm1': ('<Blob><Name>fileserver/cust/2026/z.bin.alto.json</Name><Properties><Content-Length>700</Content-Length></Properties></Blob>', ''),
        }
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
                ok = (url.path == '/tier2' and query.get('restype') == 'container' and query.get('comp') == 'list'
                      and query.get('prefix') == 'fileserver/cust/' and self.headers.get('Authorization', '').startswith('SharedKey altotier2:'))
                blobs, marker = PAGES.get(query.get('marker', ''), ('', ''))
                body = ('<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>' + blobs + '</Blobs><NextMarker>'
                        + marker + '</NextMarker></EnumerationResults>').encode() if ok else b'<Error/>'
                self.send_response(200 if ok else 403)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler).serve_forever()
        """#

    @Test func aListingFollowsTheMarkersAndReadsEscapedNames() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("alto-azure-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try await PeerServer(["python3", "-c", Self.listingStandIn, "{port}"], name: "azure", logFolder: work)
        defer { server.stop() }
        let store = AzureBlobStore(containerURL: "http://127.0.0.1:\(server.port)/tier2", prefix: "fileserver/",
                                   signer: try AzureSharedKeySigner(account: Self.account, base64Key: Self.key))
        var pages: [[TierEntry]] = []
        try await store.list(prefix: "cust/") { pages.append($0) }
        #expect(pages.map(\.count) == [2, 1])
        let entries = pages.flatMap { $0 }
        #expect(entries.map(\.key) == ["cust/2026/a&b.bin", "cust/2026/café <1>.bin", "cust/2026/z.bin.alto.json"])
        #expect(entries.map(\.size) == [12, 0, 700])
        #expect(entries[0].modifiedAt == Date(timeIntervalSince1970: 1_796_205_600))
        #expect(entries[0].location == "http://127.0.0.1:\(server.port)/tier2/fileserver/cust/2026/a%26b.bin", "a location a retrieve reads")
    }
}
