import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Serves the web UI's built files (`ALTO_UI_DIR`, by default `web/dist`, which `scripts/build-ui.sh` writes) at
/// `/ui/`, and sends `/` there. The files are read once at start, so a request never touches the disk, and only
/// names in that one folder are served. Every answer carries a Content-Security-Policy that allows scripts,
/// styles and connections from this origin only, so an injected string can never run as code.
struct WebUIMiddleware: RouterMiddleware {
    typealias Context = AltoRequestContext

    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }

    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    private let assets: [String: Asset]

    /// - Parameter folder: nil or a folder that does not exist serves nothing, and `/ui/` answers that the UI was
    ///   not built.
    init(folder: String?, logger: Logger) {
        var assets: [String: Asset] = [:]
        if let folder, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) {
            for name in names where Self.isServable(name) {
                guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { continue }
                assets[name] = Asset(bytes: ByteBuffer(bytes: data), contentType: Self.contentType(of: name))
            }
        }
        if assets["index.html"] == nil {
            logger.warning("the web UI is not built; /ui/ answers 404 (run scripts/build-ui.sh)", metadata: ["folder": "\(folder ?? "")"])
        }
        self.assets = assets
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard request.method == .get || request.method == .head else { return try await next(request, context) }
        if path == "/" || path == "/ui" {
            return Response(status: .found, headers: [.location: "/ui/"])
        }
        guard path.hasPrefix("/ui/") else { return try await next(request, context) }
        let name = path == "/ui/" ? "index.html" : String(path.dropFirst(4))
        guard let asset = assets[name] else {
            throw APIError(.notFound, "not_found", assets.isEmpty ? "the web UI is not built on this server" : "no file \(path)")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = asset.contentType
        // The page is small and names its bundle without a version, so it is checked again each time.
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: request.method == .head ? ByteBuffer() : asset.bytes))
    }

    static var securityHeaders: HTTPFields {
        [.contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
         HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin"]
    }

    private static func isServable(_ name: String) -> Bool {
        !name.hasPrefix(".") && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    private static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "json", "map": "application/json"
        default: "application/octet-stream"
        }
    }
}
