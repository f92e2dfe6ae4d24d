import Crypto
import Foundation
import Glibc

/// The embedded provider for one machine: a master key file wraps one key per tenant, each with versions, kept in
/// a keyring folder; a tenant's key (and the master key) is made the first time something is sealed, never when
/// something is opened: a missing keyring on a read is an error, since a new key opens no existing copy. Ciphertexts read
/// `alto:v<version>:<base64 of nonce, ciphertext and tag>` (AES-256-GCM, the tenant's id as associated data, so a
/// ciphertext of one tenant does not open under another's key). Every process that uses the folder (the API,
/// an agent on the same machine) sees the same keys; a rotation by one is read by the others at their next use.
public struct LocalKeyProvider: KeyProvider {
    public static let prefix = "alto:v"
    public var name: String { "local" }

    /// The keyring folder: `master.key` and `tenants/<id>.json`.
    public let folder: URL

    public init(folder: URL) {
        self.folder = folder
    }

    public func generateDataKey(tenant: UUID) async throws -> DataKey {
        let key = SymmetricKey(size: .bits256)
        let wrapped = try await encrypt(key.withUnsafeBytes { Array($0) }, tenant: tenant)
        return DataKey(key: key, wrapped: wrapped)
    }

    public func encrypt(_ plaintext: [UInt8], tenant: UUID) async throws -> String {
        let ring = try keyring(tenant, creating: true)
        guard let (version, key) = ring.latest else { throw KeyError(.unavailable, "tenant \(tenant) has no key") }
        let sealed = try AES.GCM.seal(plaintext, using: key, authenticating: Self.associatedData(tenant))
        guard let combined = sealed.combined else { throw KeyError(.unavailable, "AES-GCM gave no output") }
        return "\(Self.prefix)\(version):\(combined.base64EncodedString())"
    }

    public func decrypt(_ ciphertext: String, tenant: UUID) async throws -> [UInt8] {
        let (version, sealed) = try Self.parse(ciphertext)
        guard let key = try keyring(tenant, creating: false).versions[version] else {
            throw KeyError(.invalidCiphertext, "tenant \(tenant) has no key version \(version)")
        }
        do {
            return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Self.associatedData(tenant)))
        } catch {
            throw KeyError(.invalidCiphertext, "the ciphertext does not open under tenant \(tenant)'s key version \(version)")
        }
    }

    public func rotate(tenant: UUID) async throws -> Int {
        try withLock(tenant) {
            var stored = try readStored(tenant)
            let version = (stored.versions.map(\.version).max() ?? 0) + 1
            stored.versions.append(try wrapTenantKey(SymmetricKey(size: .bits256), version: version, tenant: tenant))
            try writeStored(stored, tenant: tenant)
            return version
        }
    }

    public func rewrap(_ ciphertext: String, tenant: UUID) async throws -> String {
        let (version, _) = try Self.parse(ciphertext)
        guard let latest = try keyring(tenant, creating: false).latest, latest.version != version else { return ciphertext }
        return try await encrypt(try await decrypt(ciphertext, tenant: tenant), tenant: tenant)
    }

    // MARK: - The keyring

    struct StoredKeyring: Codable {
        struct Version: Codable {
            var version: Int
            /// The tenant key under the master key: base64 of nonce, ciphertext and tag.
            var wrappedKey: String
            enum CodingKeys: String, CodingKey {
                case version
                case wrappedKey = "wrapped_key"
            }
        }
        var versions: [Version] = []
    }

    struct Keyring {
        var versions: [Int: SymmetricKey]
        var latest: (version: Int, key: SymmetricKey)? {
            versions.max { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
    }

    static func associatedData(_ tenant: UUID) -> [UInt8] { Array("alto-tenant:\(tenant.uuidString.lowercased())".utf8) }

    static func parse(_ ciphertext: String) throws -> (Int, Data) {
        let parts = ciphertext.split(separator: ":", maxSplits: 2)
        guard parts.count == 3, parts[0] == "alto", parts[1].hasPrefix("v"), let version = Int(parts[1].dropFirst()),
              let sealed = Data(base64Encoded: String(parts[2])), sealed.count >= 28 else {
            throw KeyError(.invalidCiphertext, "not a ciphertext of the local key provider")
        }
        return (version, sealed)
    }

    private func keyring(_ tenant: UUID, creating: Bool) throws -> Keyring {
        var stored = try readStored(tenant)
        if stored.versions.isEmpty && !creating {
            throw KeyError(.unavailable, "the keyring in \(folder.path) has no key of tenant \(tenant); nothing sealed under one opens without it")
        }
        if stored.versions.isEmpty {
            stored = try withLock(tenant) {
                var current = try readStored(tenant)
                if current.versions.isEmpty {
                    current.versions = [try wrapTenantKey(SymmetricKey(size: .bits256), version: 1, tenant: tenant)]
                    try writeStored(current, tenant: tenant)
                }
                return current
            }
        }
        let master = try masterKey(creating: creating)
        var versions: [Int: SymmetricKey] = [:]
        for entry in stored.versions {
            guard let sealed = Data(base64Encoded: entry.wrappedKey),
                  let key = try? AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: master, authenticating: Self.associatedData(tenant))
            else { throw KeyError(.invalidCiphertext, "tenant \(tenant)'s key version \(entry.version) does not open under the master key") }
            versions[entry.version] = SymmetricKey(data: key)
        }
        return Keyring(versions: versions)
    }

    private func wrapTenantKey(_ key: SymmetricKey, version: Int, tenant: UUID) throws -> StoredKeyring.Version {
        let sealed = try AES.GCM.seal(key.withUnsafeBytes { Array($0) }, using: try masterKey(creating: true), authenticating: Self.associatedData(tenant))
        return .init(version: version, wrappedKey: sealed.combined?.base64EncodedString() ?? "")
    }

    private func tenantFile(_ tenant: UUID) -> URL {
        folder.appendingPathComponent("tenants/\(tenant.uuidString.lowercased()).json")
    }

    private func readStored(_ tenant: UUID) throws -> StoredKeyring {
        guard let data = FileManager.default.contents(atPath: tenantFile(tenant).path) else { return StoredKeyring() }
        do { return try JSONDecoder().decode(StoredKeyring.self, from: data) } catch {
            throw KeyError(.unavailable, "the keyring of tenant \(tenant) cannot be read: \(error)")
        }
    }

    private func writeStored(_ stored: StoredKeyring, tenant: UUID) throws {
        let data = try JSONEncoder().encode(stored)
        try Self.writeAtomically(data, to: tenantFile(tenant))
    }

    /// The master key (32 random bytes, readable by the owner only), made when `creating` and missing.
    private func masterKey(creating: Bool) throws -> SymmetricKey {
        let path = folder.appendingPathComponent("master.key").path
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw KeyError(.unavailable, "\(path) must hold 32 bytes, it holds \(data.count)") }
            return SymmetricKey(data: data)
        }
        // A master key is made only for a keyring that has no tenant key yet: a new one would open none of theirs.
        let tenants = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("tenants").path)) ?? []
        guard creating, !tenants.contains(where: { $0.hasSuffix(".json") }) else {
            throw KeyError(.unavailable, "\(path) is missing: the keyring's tenant keys cannot be opened without it")
        }
        let key = SymmetricKey(size: .bits256)
        let temporary = path + ".\(UUID().uuidString)"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw KeyError(.unavailable, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let written = key.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == 32, synced else { throw KeyError(.unavailable, "cannot write \(path)") }
        // Published whole or not at all: a process racing this one reads either no key or all 32 bytes of one.
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return try masterKey(creating: false) }
            throw KeyError(.unavailable, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return key
    }

    /// Runs `body` holding an exclusive lock on the tenant's keyring, so two processes never both add a version.
    private func withLock<Result>(_ tenant: UUID, _ body: () throws -> Result) throws -> Result {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("tenants"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = folder.appendingPathComponent("tenants/\(tenant.uuidString.lowercased()).lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw KeyError(.unavailable, "cannot open \(path)") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw KeyError(.unavailable, "cannot lock \(path)") }
        return try body()
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw KeyError(.unavailable, "cannot write \(temporary.path)") }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == data.count, synced, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw KeyError(.unavailable, "cannot write \(url.path)")
        }
    }
}
