import AltoModels
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An Azure Blob container as the second tier: block blobs, authorized with Shared Key (or a SAS token). A copy of
/// up to one block goes up in one Put Blob; a larger one as blocks of `blockBytes`, one in memory at a time,
/// committed with Put Block List, which also sets the metadata (`alto_original_path`, `alto_sha256`) since the whole
/// content has been read by then. The copy is verified by reading it back.
public struct AzureBlobStore: TierStore {
    static let version = "2021-12-02"

    /// The container's URL, `https://account.blob.core.windows.net/container`, without a trailing slash.
    public let containerURL: String
    public let prefix: String
    public let blockBytes: Int
    private let containerPath: String
    private let signer: AzureSharedKeySigner?
    private let sasToken: String?

    /// From a target of `kind`.
    public init(target: StorageTargetReference) throws(TieringError) {
        let url = try Self.url(of: target.location)
        let host = url.host ?? ""
        let parts = url.path.split(separator: "/", maxSplits: 1).map(String.init)
        let settings = target.settings ?? [:]
        let secrets = target.secrets ?? [:]
        let account = settings["account"] ?? String(host.split(separator: ".").first ?? "")
        let origin = "\(url.scheme ?? "https")://\(host)" + (url.port.map { ":\($0)" } ?? "")
        let signer = try secrets["account_key"].map { key throws(TieringError) in try AzureSharedKeySigner(account: account, base64Key: key) }
        guard signer != nil || secrets["sas_token"] != nil else {
            throw TieringError(.rejected, "the Azure target needs an account_key or a sas_token")
        }
        self.init(containerURL: origin + "/" + parts[0], prefix: parts.count > 1 ? parts[1] + "/" : "", signer: signer,
                  sasToken: secrets["sas_token"], blockBytes: max(1, Int(settings["block_size_mb"] ?? "") ?? 8) << 20)
    }

    /// An Azure Blob Storage container, authorized with the account's Shared Key or a SAS token.
    public static let kind = StorageKind(
        name: .azureBlob, locationForm: "https://account.blob.core.windows.net/container[/prefix]",
        settings: [StorageKind.Setting("account", "the storage account (the host's first label)"),
                   StorageKind.Setting("block_size_mb", "block size in MiB (8)"),
                   StorageKind.Setting("account_key", "the account's Shared Key, base64", isSecret: true),
                   StorageKind.Setting("sas_token", "a SAS token for the container", isSecret: true)],
        requiredCredentials: [["account_key", "sas_token"]],
        locationProblem: StorageKind.problem { location throws(TieringError) in _ = try url(of: location) },
        make: { target throws(TieringError) in try AzureBlobStore(target: target) })

    /// The container's URL: HTTPS, a host, and a container in the path.
    static func url(of location: String) throws(TieringError) -> URL {
        guard let url = URL(string: location), url.scheme == "https", url.host != nil, url.path.count > 1 else {
            throw TieringError(.rejected, "an Azure Blob target's location is https://account.blob.core.windows.net/container[/prefix]")
        }
        return url
    }

    public init(containerURL: String, prefix: String = "", signer: AzureSharedKeySigner?, sasToken: String? = nil, blockBytes: Int = 8 << 20) {
        self.containerURL = containerURL
        self.prefix = prefix
        self.signer = signer
        self.sasToken = sasToken.map { $0.hasPrefix("?") ? String($0.dropFirst()) : $0 }
        self.blockBytes = blockBytes
        containerPath = URL(string: containerURL)?.path ?? ""
    }

    public func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        let name = prefix + object.key
        let first = try await source.nextPart(upTo: blockBytes)
        func metadata() -> [(String, String)] {
            [("x-ms-meta-alto_original_path", SigV4Signer.encode(object.originalPath, keepingSlashes: true)),
             ("x-ms-meta-alto_sha256", String(source.contentHash.dropFirst(7)))]
        }
        if first.count < blockBytes {
            _ = try await send("PUT", name: name, headers: [("x-ms-blob-type", "BlockBlob")], body: first, after: metadata)
        } else {
            var blocks: [String] = []
            var block = first
            while !block.isEmpty {
                let id = Data(String(format: "alto-block-%08d", blocks.count).utf8).base64EncodedString()
                _ = try await send("PUT", name: name, query: [("comp", "block"), ("blockid", id)], body: block)
                blocks.append("<Latest>\(id)</Latest>")
                block = try await source.nextPart(upTo: blockBytes)
            }
            let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>\(blocks.joined())</BlockList>"
            _ = try await send("PUT", name: name, query: [("comp", "blocklist")], body: Array(list.utf8), after: metadata)
        }
        return try await readBack(location(of: name), for: source)
    }

    public func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        let response = try await execute("GET", name: try name(of: location), query: [], headers: [], body: nil)
        try await ObjectStoreHTTP.stream(response, into: sink, describing: location)
    }

    public func remove(_ location: String) async {
        guard let name = try? name(of: location) else { return }
        _ = try? await send("DELETE", name: name)
        _ = try? await send("DELETE", name: name + CopyDescription.suffix)
    }

    public func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError) {
        _ = try await send("PUT", name: try name(of: location) + CopyDescription.suffix, headers: [("x-ms-blob-type", "BlockBlob")],
                           body: description)
    }

    /// List Blobs a thousand at a time, following the markers.
    public func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        var marker: String?
        repeat {
            var query = [("restype", "container"), ("comp", "list"), ("prefix", self.prefix + prefix), ("maxresults", "1000")]
            if let marker { query.append(("marker", marker)) }
            let response = try await execute("GET", name: "", query: query, headers: [], body: nil)
            let answer = String(decoding: try await ObjectStoreHTTP.body(of: response, describing: "listing \(containerURL)", upTo: 16 << 20),
                                as: UTF8.self)[...]
            let entries = XMLText.elements("Blob", in: answer).compactMap { blob -> TierEntry? in
                guard let name = XMLText.value("Name", in: blob), let size = XMLText.value("Content-Length", in: blob).flatMap({ Int64($0) }) else {
                    return nil
                }
                return TierEntry(location: location(of: name), key: String(name.dropFirst(self.prefix.count)), size: size,
                                 modifiedAt: XMLText.value("Last-Modified", in: blob).flatMap(AzureSharedKeySigner.parseDate))
            }
            try await page(entries)
            marker = XMLText.value("NextMarker", in: answer).flatMap { $0.isEmpty ? nil : $0 }
        } while marker != nil
    }

    private func location(of name: String) -> String { containerURL + "/" + SigV4Signer.encode(name, keepingSlashes: true) }

    private func name(of location: String) throws(TieringError) -> String {
        guard location.hasPrefix(containerURL + "/") else { throw TieringError(.rejected, "\(location) is not in \(containerURL)") }
        return String(location.dropFirst(containerURL.count + 1)).removingPercentEncoding ?? ""
    }

    private func send(_ method: String, name: String, query: [(String, String)] = [], headers: [(String, String)] = [],
                      body: [UInt8]? = nil, after metadata: () -> [(String, String)] = { [] }) async throws(TieringError) -> [UInt8] {
        let response = try await execute(method, name: name, query: query, headers: headers + metadata(), body: body)
        return try await ObjectStoreHTTP.body(of: response, describing: "\(method) \(containerURL)/\(name)")
    }

    /// Builds, signs and sends one request; the headers are what `AzureSharedKeySigner` signs, exactly as sent.
    func request(_ method: String, name: String, query: [(String, String)], headers: [(String, String)],
                 bodyLength: Int?, date: Date = Date()) -> HTTPClientRequest {
        let path = containerPath + (name.isEmpty ? "" : "/" + SigV4Signer.encode(name, keepingSlashes: true))
        var all = headers + [("x-ms-date", AzureSharedKeySigner.date(date)), ("x-ms-version", Self.version)]
        if let bodyLength { all.append(("Content-Length", "\(bodyLength)")) }
        var queryString = query.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }
        if let sasToken { queryString.append(sasToken) }
        var request = HTTPClientRequest(url: containerURL + (name.isEmpty ? "" : "/" + SigV4Signer.encode(name, keepingSlashes: true))
                                        + (queryString.isEmpty ? "" : "?" + queryString.joined(separator: "&")))
        request.method = HTTPMethod(rawValue: method)
        if let signer {
            all.append(("Authorization", signer.authorization(method: method, path: path, query: query, headers: all)))
        }
        for (header, value) in all { request.headers.add(name: header, value: value) }
        return request
    }

    private func execute(_ method: String, name: String, query: [(String, String)], headers: [(String, String)],
                         body: [UInt8]?) async throws(TieringError) -> HTTPClientResponse {
        var request = request(method, name: name, query: query, headers: headers, bodyLength: body?.count ?? (method == "PUT" ? 0 : nil))
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        return try await ObjectStoreHTTP.execute(request, describing: "\(method) \(containerURL)/\(name)")
    }
}
