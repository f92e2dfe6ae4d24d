import Foundation
import Crypto
import Glibc

/// `sha256:<hex>`, the one hash form Alto writes and checks.
public enum ContentHash {
    static func format(_ digest: SHA256.Digest) -> String {
        "sha256:" + digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Hashes bytes in memory.
    public static func of(_ bytes: some DataProtocol) -> String {
        format(SHA256.hash(data: bytes))
    }

    /// Hashes a whole file.
    public static func ofFile(_ path: String) throws(TieringError) -> String {
        try PosixFile(path: path, flags: O_RDONLY).sha256()
    }
}
