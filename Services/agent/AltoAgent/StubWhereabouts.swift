import AltoModels
import AltoTiering
import Foundation
import Glibc

/// Where a stub the registry knows is now, judged on its host without opening it for reading: at its path, moved
/// (found by its handle), gone, or not to be told. Reconciliation's stub checks and purges both ask, and any doubt
/// (a file system not mounted, a record that cannot be read, a move whose new name cannot be confirmed) is
/// `uncertain`, which keeps a copy rather than purging it.
enum StubWhereabouts: Equatable {
    /// The file at its path is the stub, naming its copy (with its hash, when one is given).
    case inPlace
    /// The same file, still the stub of its copy, is now at this path (raw bytes).
    case moved([UInt8])
    /// No file is this stub any more: the file and every name of it are deleted, or it is no longer a stub of
    /// this copy.
    case gone(String)
    /// Its path holds something else and no handle says where the stub went (a stub made before handles were
    /// kept): a stub check reports it as differing, a purge past retention goes ahead.
    case replaced(String)
    case uncertain(String)

    static func find(path: String, location: String, hash: String?, handle: StubHandle?) -> StubWhereabouts {
        // A name that is not UTF-8 is not this path once decoded: never taken for gone.
        guard !path.contains("\u{FFFD}") else { return .uncertain("its name is not UTF-8, which this check cannot follow") }
        let atPath: String
        var fileIsGone = false
        do throws(TieringError) {
            if let record = try StubFile.record(at: path) {
                if record.location == location {
                    if hash == nil || record.hash == hash { return .inPlace }
                    return .uncertain("its stub names \(record.location) with \(record.hash)")
                }
                atPath = "its path holds the stub of \(record.location)"
            } else {
                atPath = "it is no longer a stub"
            }
        } catch where error.code == .notFound {
            atPath = "the file is gone"
            fileIsGone = true
        } catch {
            return .uncertain(error.message)
        }
        guard let handle else {
            guard fileIsGone else { return .replaced(atPath) }
            // Only a file gone from a folder that is there is gone: a folder not there may be a share not mounted.
            return folderExists(of: path) ? .gone(atPath) : .uncertain("its folder is not there")
        }
        switch handle.locate(near: path) {
        case .gone:
            return .gone(atPath + ", and so is every name of it")
        case .found(let name?, let record?) where record.location == location:
            return .moved(name)
        case .found(nil, let record?) where record.location == location:
            return .uncertain("it was moved where its name cannot be confirmed")
        case .found:
            return .gone(atPath + ", and the file it was is no longer its stub")
        case .unknown(let reason):
            return .uncertain(atPath + "; where it went cannot be told: " + reason)
        }
    }

    static func folderExists(of path: String) -> Bool {
        var info = stat()
        return stat((path as NSString).deletingLastPathComponent, &info) == 0
    }
}
