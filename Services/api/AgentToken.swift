import Crypto
import Foundation

/// Agent credentials: random bearer tokens of which only a SHA-256 digest is stored, compared in constant time.
enum AgentToken {
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "alto_agent_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(token.utf8)))
    }

    static func matches(_ token: String, digest stored: [UInt8]) -> Bool {
        let presented = digest(token)
        guard presented.count == stored.count else { return false }
        return zip(presented, stored).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
