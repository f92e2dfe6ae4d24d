import Crypto
import Foundation

/// Bearer secrets for API tokens and agents: 256 random bits behind a prefix that says what they are. Only their
/// SHA-256 is stored, and a presented token is found by that digest and compared in constant time.
enum SecretToken {
    static let apiPrefix = "alto_pat_"
    static let agentPrefix = "alto_agent_"

    static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(token.utf8)))
    }

    /// Equal bytes, in time that depends only on the length.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
