import Foundation
import Logging
import NIOCore

extension RuntimeSettings {
    /// Says where the server that just started listens: in the log, and in `ALTO_HTTP_PORT_FILE` when set. The
    /// file is written whole under a temporary name and renamed, so a reader never sees half a number.
    public func announceListening(on channel: any Channel, logger: Logger) {
        let port = channel.localAddress?.port ?? httpPort
        logger.info("listening", metadata: ["http.host": "\(httpHost)", "http.port": "\(port)"])
        guard let httpPortFile else { return }
        let partial = httpPortFile + ".partial"
        do {
            try Data("\(port)\n".utf8).write(to: URL(fileURLWithPath: partial))
            guard rename(partial, httpPortFile) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        } catch {
            logger.error("cannot write the port file", metadata: ["path": "\(httpPortFile)", "error": "\(error)"])
        }
    }
}
