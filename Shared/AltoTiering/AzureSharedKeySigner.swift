import Crypto
import Foundation

/// Azure Storage's Shared Key authorization for the Blob service: the string to sign is the verb, the standard
/// headers in their fixed order, the `x-ms-` headers sorted, and the account-qualified resource with its query
/// parameters, signed with HMAC-SHA256 under the account key.
public struct AzureSharedKeySigner: Sendable {
    public let account: String
    private let key: SymmetricKey

    public init(account: String, base64Key: String) throws(TieringError) {
        guard let decoded = Data(base64Encoded: base64Key) else { throw TieringError(.rejected, "the Azure account key is not base64") }
        self.account = account
        key = SymmetricKey(data: decoded)
    }

    /// The `Authorization` header for a request. `path` is the URL path as sent (percent-encoded); `query` holds the
    /// decoded parameters; `headers` every header sent, `x-ms-date` and `x-ms-version` among them.
    public func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)]) -> String {
        let lowered = headers.map { ($0.0.lowercased(), $0.1) }
        func header(_ name: String) -> String { lowered.first { $0.0 == name }?.1 ?? "" }
        let length = header("content-length")
        let standard = ["content-encoding", "content-language"].map(header) + [length == "0" ? "" : length]
            + ["content-md5", "content-type", "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"].map(header)
        let msHeaders = lowered.filter { $0.0.hasPrefix("x-ms-") }.sorted { $0.0 < $1.0 }
            .map { "\($0.0):\($0.1.trimmingCharacters(in: .whitespaces))\n" }.joined()
        var resource = "/\(account)\(path)"
        for (name, values) in Dictionary(grouping: query, by: { $0.0.lowercased() }).sorted(by: { $0.key < $1.key }) {
            resource += "\n\(name):" + values.map(\.1).sorted().joined(separator: ",")
        }
        let stringToSign = ([method] + standard).joined(separator: "\n") + "\n" + msHeaders + resource
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key)).base64EncodedString()
        return "SharedKey \(account):\(signature)"
    }

    /// `x-ms-date`'s form (RFC 1123, GMT).
    public static func date(_ date: Date = Date()) -> String {
        rfc1123().string(from: date)
    }

    /// A time in `x-ms-date`'s form, as Azure's answers give `Last-Modified`.
    static func parseDate(_ text: String) -> Date? {
        rfc1123().date(from: text)
    }

    private static func rfc1123() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }
}
