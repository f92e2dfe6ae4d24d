import Crypto
import Foundation

/// Where a tenant's keys live. Alto never keeps a tenant's key itself: it asks the provider for data keys
/// (envelope encryption), keeps them only wrapped by the tenant's key, and has the provider unwrap them when a
/// copy is read back. Rotating the tenant's key and rewrapping what was wrapped with the old version leaves the
/// data as it is.
public protocol KeyProvider: Sendable {
    /// `local` or `vault`, recorded with what it wrapped.
    var name: String { get }

    /// A fresh data key for `tenant`: the key itself, to use and forget, and the key wrapped by the tenant's key.
    func generateDataKey(tenant: UUID) async throws -> DataKey

    /// Encrypts a small secret (a credential, a data key) with the tenant's current key.
    func encrypt(_ plaintext: [UInt8], tenant: UUID) async throws -> String

    /// Decrypts what `encrypt` or `generateDataKey` wrapped, with whichever version of the tenant's key wrapped it.
    func decrypt(_ ciphertext: String, tenant: UUID) async throws -> [UInt8]

    /// Makes a new version of the tenant's key the one new encryptions use; returns its number.
    func rotate(tenant: UUID) async throws -> Int

    /// Re-encrypts a ciphertext under the tenant's current key version without revealing it.
    func rewrap(_ ciphertext: String, tenant: UUID) async throws -> String
}

extension KeyProvider {
    /// The data key inside `wrapped`.
    public func unwrapDataKey(_ wrapped: String, tenant: UUID) async throws -> SymmetricKey {
        let bytes = try await decrypt(wrapped, tenant: tenant)
        guard bytes.count == 32 else { throw KeyError(.invalidCiphertext, "a data key is 32 bytes, this one \(bytes.count)") }
        return SymmetricKey(data: bytes)
    }

    /// Whether `text` is something a key provider wrapped, rather than a value stored before encryption at rest.
    public static func isWrapped(_ text: String) -> Bool {
        text.hasPrefix(LocalKeyProvider.prefix) || text.hasPrefix("vault:v")
    }
}

/// A data key as the provider handed it out.
public struct DataKey: Sendable {
    public var key: SymmetricKey
    /// The key wrapped by the tenant's key: `alto:v<n>:...` or `vault:v<n>:...`.
    public var wrapped: String

    public init(key: SymmetricKey, wrapped: String) {
        self.key = key
        self.wrapped = wrapped
    }
}

/// Why a key operation failed; never carries key material.
public struct KeyError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The provider is not configured or cannot be reached.
        case unavailable
        /// The provider refused (unknown key, no permission).
        case refused
        /// The ciphertext is not one this provider made, or it was changed.
        case invalidCiphertext
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
