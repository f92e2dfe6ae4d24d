import AltoModels
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// An S3 bucket (AWS or any S3-compatible server) as the second tier, signed with SigV4. A copy of up to one part
/// goes up in one PUT; a larger one as a multipart upload of `partBytes` parts, one part in memory at a time,
/// aborted if anything fails. The original path travels as `x-amz-meta-alto-original-path` and the hash as the
/// `alto-sha256` tag; the copy is verified by reading it back.
public struct S3Store: TierStore {
    public let endpoint: String
    public let bucket: String
    public let prefix: String
    public let signer: SigV4Signer
    public let partBytes: Int
    private let host: String

    /// From a target of `kind`.
    public init(target: StorageTargetReference) throws(TieringError) {
        let settings = target.settings ?? [:]
        let secrets = target.secrets ?? [:]
        let (bucket, prefix) = try Self.bucketAndPrefix(of: target.location)
        guard let accessKey = settings["access_key_id"], let secret = secrets["secret_access_key"] else {
            throw TieringError(.rejected, "the S3 target needs access_key_id and secret_access_key")
        }
        let region = settings["region"] ?? "us-east-1"
        try self.init(endpoint: settings["endpoint"] ?? "https://s3.\(region).amazonaws.com", bucket: bucket, prefix: prefix,
                      signer: SigV4Signer(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: secrets["session_token"],
                                          region: region),
                      partBytes: max(5, Int(settings["part_size_mb"] ?? "") ?? 16) << 20)
    }

    /// A bucket of AWS S3 or of any server that speaks its API, signed with SigV4.
    public static let kind = StorageKind(
        name: .s3, locationForm: "s3://bucket[/prefix]",
        settings: [StorageKind.Setting("endpoint", "the server's URL (AWS's for the region)"),
                   StorageKind.Setting("region", "the signing region (us-east-1)"),
                   StorageKind.Setting("access_key_id", "the access key's id"),
                   StorageKind.Setting("part_size_mb", "multipart upload part size in MiB (16, at least 5)"),
                   StorageKind.Setting("secret_access_key", "the access key's secret", isSecret: true),
                   StorageKind.Setting("session_token", "a temporary credential's session token", isSecret: true)],
        requiredSettings: ["access_key_id"], requiredCredentials: [["secret_access_key"]],
        locationProblem: StorageKind.problem { location throws(TieringError) in _ = try bucketAndPrefix(of: location) },
        make: { target throws(TieringError) in try S3Store(target: target) })

    /// The bucket of `s3://bucket[/prefix]`, named as S3 requires, and the prefix with its trailing slash.
    static func bucketAndPrefix(of location: String) throws(TieringError) -> (bucket: String, prefix: String) {
        let form = TieringError(.rejected, "an S3 target's location is s3://bucket[/prefix] with a valid bucket name")
        guard location.hasPrefix("s3://") else { throw form }
        let path = location.dropFirst(5).split(separator: "/", maxSplits: 1).map(String.init)
        guard let bucket = path.first, (3...63).contains(bucket.count),
              bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else { throw form }
        return (bucket, path.count > 1 ? path[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) + "/" : "")
    }

    public init(endpoint: String, bucket: String, prefix: String = "", signer: SigV4Signer, partBytes: Int = 16 << 20) throws(TieringError) {
        guard let url = URL(string: endpoint), let host = url.host else { throw TieringError(.rejected, "bad S3 endpoint \(endpoint)") }
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.host = url.port.map { "\(host):\($0)" } ?? host
        self.bucket = bucket
        self.prefix = prefix
        self.signer = signer
        self.partBytes = partBytes
    }

    public func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        let key = prefix + object.key
        let metadata = [("x-amz-meta-alto-original-path", SigV4Signer.encode(object.originalPath, keepingSlashes: true))]
        let first = try await source.nextPart(upTo: partBytes)
        if first.count < partBytes {
            _ = try await send("PUT", key: key, headers: metadata, body: first)
        } else {
            try await multipartUpload(key: key, first: first, source: source, metadata: metadata)
        }
        do throws(TieringError) {
            let tagging = "<Tagging><TagSet><Tag><Key>alto-sha256</Key><Value>\(source.contentHash.dropFirst(7))</Value></Tag></TagSet></Tagging>"
            _ = try await send("PUT", key: key, query: [("tagging", "")], body: Array(tagging.utf8))
        } catch {
            await remove(location(of: key))
            throw error
        }
        return try await readBack(location(of: key), for: source)
    }

    public func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        let key = try key(of: location)
        let response = try await execute("GET", key: key, query: [], headers: [], body: nil)
        try await ObjectStoreHTTP.stream(response, into: sink, describing: location)
    }

    public func remove(_ location: String) async {
        guard let key = try? key(of: location) else { return }
        _ = try? await send("DELETE", key: key)
        _ = try? await send("DELETE", key: key + CopyDescription.suffix)
    }

    public func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError) {
        _ = try await send("PUT", key: try key(of: location) + CopyDescription.suffix, body: description)
    }

    /// ListObjectsV2 a thousand keys at a time, following continuation tokens; keys come URL-encoded so that any
    /// byte a key holds survives the XML.
    public func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", self.prefix + prefix), ("max-keys", "1000"), ("encoding-type", "url")]
            if let token { query.append(("continuation-token", token)) }
            let answer = String(decoding: try await send("GET", key: "", query: query, upTo: 16 << 20), as: UTF8.self)[...]
            let entries = XMLText.elements("Contents", in: answer).compactMap { contents -> TierEntry? in
                guard let encoded = XMLText.value("Key", in: contents),
                      let key = encoded.replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                      let size = XMLText.value("Size", in: contents).flatMap({ Int64($0) }) else { return nil }
                return TierEntry(location: location(of: key), key: String(key.dropFirst(self.prefix.count)), size: size,
                                 modifiedAt: XMLText.value("LastModified", in: contents).flatMap(RFC3339.parse))
            }
            try await page(entries)
            token = XMLText.value("IsTruncated", in: answer) == "true" ? XMLText.value("NextContinuationToken", in: answer) : nil
        } while token != nil
    }

    private func location(of key: String) -> String { "s3://\(bucket)/\(key)" }

    private func key(of location: String) throws(TieringError) -> String {
        let start = "s3://\(bucket)/"
        guard location.hasPrefix(start) else { throw TieringError(.rejected, "\(location) is not in bucket \(bucket)") }
        return String(location.dropFirst(start.count))
    }

    private func multipartUpload(key: String, first: [UInt8], source: TierSource, metadata: [(String, String)]) async throws(TieringError) {
        let created = try await send("POST", key: key, query: [("uploads", "")], headers: metadata)
        guard let uploadID = XMLText.value("UploadId", in: String(decoding: created, as: UTF8.self)[...]) else {
            throw TieringError(.transient, "the S3 server gave no upload id for \(key)")
        }
        do throws(TieringError) {
            var parts: [String] = []
            var part = first
            while !part.isEmpty {
                let number = parts.count + 1
                let etag = try await sendPart(key: key, uploadID: uploadID, number: number, body: part)
                parts.append("<Part><PartNumber>\(number)</PartNumber><ETag>\(etag)</ETag></Part>")
                part = try await source.nextPart(upTo: partBytes)
            }
            let completion = "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>"
            let answer = try await send("POST", key: key, query: [("uploadId", uploadID)], body: Array(completion.utf8))
            if String(decoding: answer, as: UTF8.self).contains("<Error>") {
                throw TieringError(.transient, "the S3 server refused to complete the upload of \(key): \(String(decoding: answer.prefix(300), as: UTF8.self))")
            }
        } catch {
            _ = try? await send("DELETE", key: key, query: [("uploadId", uploadID)])
            throw error
        }
    }

    private func sendPart(key: String, uploadID: String, number: Int, body: [UInt8]) async throws(TieringError) -> String {
        let response = try await execute("PUT", key: key, query: [("partNumber", "\(number)"), ("uploadId", uploadID)], headers: [], body: body)
        guard let etag = response.headers.first(name: "ETag") else {
            throw TieringError(.transient, "the S3 server gave no ETag for part \(number) of \(key)")
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        return etag
    }

    /// Sends a request and returns its body (at most `limit`: answers to control requests and listings).
    private func send(_ method: String, key: String, query: [(String, String)] = [], headers: [(String, String)] = [],
                      body: [UInt8]? = nil, upTo limit: Int = 1 << 20) async throws(TieringError) -> [UInt8] {
        let response = try await execute(method, key: key, query: query, headers: headers, body: body)
        return try await ObjectStoreHTTP.body(of: response, describing: "\(method) s3://\(bucket)/\(key)", upTo: limit)
    }

    private func execute(_ method: String, key: String, query: [(String, String)], headers: [(String, String)],
                         body: [UInt8]?) async throws(TieringError) -> HTTPClientResponse {
        let path = "/\(SigV4Signer.encode(bucket))" + (key.isEmpty ? "" : "/\(SigV4Signer.encode(key, keepingSlashes: true))")
        let payloadHash = body.map { SigV4Signer.hex(SHA256.hash(data: $0)) } ?? SigV4Signer.emptyPayloadHash
        let queryString = query.map { $0.1.isEmpty ? SigV4Signer.encode($0.0) : "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }
            .joined(separator: "&")
        var request = HTTPClientRequest(url: endpoint + path + (queryString.isEmpty ? "" : "?" + queryString))
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        for (name, value) in signer.sign(method: method, host: host, path: path, query: query, headers: headers, payloadHash: payloadHash) {
            request.headers.add(name: name, value: value)
        }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Length", value: "\(body.count)")
        }
        return try await ObjectStoreHTTP.execute(request, describing: "\(method) s3://\(bucket)/\(key)")
    }
}
