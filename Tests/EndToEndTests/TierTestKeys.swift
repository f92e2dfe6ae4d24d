import AltoCompression
import AltoKeys
import AltoModels
import AltoTiering
import Foundation

/// Opens a tier-2 copy the way only its tenant can: the data key unwrapped from the stub record by the tenant's
/// keyring (the local provider the suite's agent used), the sealed stream opened, the zstd stream expanded.
enum TierTestKeys {
    static func content(of copy: String, record: StubRecord, environment: [String: String]) async throws -> Data {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: copy)))
        if let encryption = record.encryption {
            let provider = LocalKeyProvider(folder: URL(fileURLWithPath: environment["ALTO_KEY_DIR"] ?? ""))
            let tenant = UUID(uuidString: environment["ALTO_CUSTOMER_ID"] ?? "") ?? UUID()
            let key = try await provider.unwrapDataKey(encryption.wrappedKey, tenant: tenant)
            bytes = try SealedStream.open(bytes, key: key)
        }
        guard record.compression == "zstd" else { return Data(bytes) }
        let decompressor = try Decompressor(.zstd)
        var content: [UInt8] = []
        try bytes.withUnsafeBytes { try decompressor.decompress($0, into: &content) }
        try decompressor.finish()
        return Data(content)
    }
}
