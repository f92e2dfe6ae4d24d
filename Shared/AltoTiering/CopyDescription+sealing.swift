import AltoModels
import Crypto
import Foundation
import Glibc

extension CopyDescription {
    /// The description of a copy of the file whose status is `info` (its size, times, mode and owner, which a stub
    /// keeps too), authenticated under `sealingKey` when the copy is sealed with it.
    public init(customerID: UUID, hostID: UUID, targetID: UUID, fileID: Int64, originalPath: String, status info: stat, hash: String,
                copy: StoredCopy, compression: String?, encryption: StubRecord.Encryption?, tieredAt: Date, sealingKey: SymmetricKey?) {
        self.init(customerID: customerID, hostID: hostID, targetID: targetID, fileID: fileID, originalPath: originalPath,
                  size: Int64(info.st_size),
                  modified: .init(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec)),
                  accessed: .init(seconds: Int64(info.st_atim.tv_sec), nanoseconds: Int64(info.st_atim.tv_nsec)),
                  mode: UInt32(info.st_mode & 0o7777), uid: info.st_uid, gid: info.st_gid, hash: hash,
                  storedBytes: copy.storedBytes, storedHash: copy.verifiedHash, compression: compression, encryption: encryption,
                  tieredAt: tieredAt)
        if let sealingKey { self = authenticated(with: sealingKey) }
    }

    /// The description with its `mac`, under a key derived from the copy's own data key: only a holder of the
    /// tenant's key, which unwraps the data key, can make or check one.
    public func authenticated(with dataKey: SymmetricKey) -> CopyDescription {
        var description = self
        description.mac = nil
        let code = HMAC<SHA256>.authenticationCode(for: Array(description.authenticatedText.utf8), using: Self.macKey(dataKey))
        description.mac = Self.macPrefix + SigV4Signer.hex(code)
        return description
    }

    /// Whether `mac` vouches for every field under the copy's data key.
    public func isAuthentic(under dataKey: SymmetricKey) -> Bool {
        guard let mac, mac.hasPrefix(Self.macPrefix), let code = Self.bytes(ofHex: mac.dropFirst(Self.macPrefix.count)) else {
            return false
        }
        return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: Array(authenticatedText.utf8), using: Self.macKey(dataKey))
    }

    /// The data key that opens a sealed copy, unwrapped by `dataKey`, once this description authenticates under it;
    /// nil for a copy in the clear. A description that does not authenticate was changed: `.hashMismatch`.
    public func openingKey(
        _ dataKey: (StubRecord.Encryption) async throws(TieringError) -> SymmetricKey
    ) async throws(TieringError) -> SymmetricKey? {
        guard let encryption else { return nil }
        let key = try await dataKey(encryption)
        guard isAuthentic(under: key) else {
            throw TieringError(.hashMismatch, "its description does not authenticate under its data key: it was changed")
        }
        return key
    }

    /// The JSON written beside the copy.
    public func encoded() -> [UInt8] {
        (try? [UInt8](AltoJSON.encoder().encode(self))) ?? []
    }

    /// A description read back from tier-2; anything that is not one is `.untrustedRecord`.
    public static func decoded(from bytes: [UInt8], at location: String) throws(TieringError) -> CopyDescription {
        let description: CopyDescription
        do {
            description = try AltoJSON.decoder().decode(CopyDescription.self, from: Data(bytes))
        } catch {
            throw TieringError(.untrustedRecord, "\(location) is not a copy description: \(AltoJSON.describe(error))")
        }
        if let problem = description.problem { throw TieringError(.untrustedRecord, "the description \(location) is unusable: \(problem)") }
        return description
    }

    static let macPrefix = "hmac-sha256:"

    static func macKey(_ dataKey: SymmetricKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, info: Array("alto.copy-description.v1".utf8), outputByteCount: 32)
    }

    static func bytes(ofHex hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
