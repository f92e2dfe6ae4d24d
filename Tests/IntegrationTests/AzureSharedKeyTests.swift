import AltoTestSupport
import AltoTiering
import Foundation
import Testing

/// Azure Blob's Shared Key signatures, checked against Microsoft's own Python SDK (azure-storage-blob), which signs
/// the same requests. No Azure-compatible server installs here (Azurite comes from npm), so the store's requests
/// are checked by their signatures, not against a server.
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
}
