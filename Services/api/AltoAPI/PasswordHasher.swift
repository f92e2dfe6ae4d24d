import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Passwords are kept as bcrypt hashes. Hashing takes a deliberate fraction of a second, so it runs on the
/// thread pool and never on an event loop.
struct PasswordHasher: Sendable {
    /// bcrypt's cost: 2^cost rounds.
    let cost: UInt8
    /// A hash of a password nobody knows, checked when the email is unknown, so a login for an unknown address
    /// takes as long as one for a known address and does not tell which addresses exist.
    let decoy: String

    init(cost: UInt8) {
        self.cost = cost
        self.decoy = Bcrypt.hash(UUID().uuidString, cost: cost)
    }

    /// Checks the rules a new password must meet; the message names what is wrong.
    static func problem(with password: String) -> String? {
        if password.count < 12 { return "must be at least 12 characters" }
        if password.utf8.count > 72 { return "must be at most 72 bytes (bcrypt reads no further)" }
        return nil
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
