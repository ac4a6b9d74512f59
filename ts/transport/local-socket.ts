/**
 * Local sockets: a Unix domain socket (a path in the file system) or, on Windows, a named pipe
 * (`\\.\pipe\name`). They carry the same byte stream as TCP, so the session above them is the
 * same; only the listening and the dialling differ, and they are here.
 *
 * A server's socket file may outlive a process that crashed. Before listening, an existing path
 * is checked: if something accepts a connection on it, listen() fails with EADDRINUSE (as a TCP
 * port in use does) and the file is left alone; if nothing does (ECONNREFUSED: a stale socket),
 * the file is removed and listened on. A path that exists and is not a socket is never removed.
 */
import fs from 'node:fs';
import net from 'node:net';
import { OptionError } from '../errors.js';

/**
 * The longest Unix socket path in bytes: sun_path holds 108 bytes on Linux, 104 on macOS and the
 * BSDs, one of them the terminating NUL.
 */
const MAX_UNIX_PATH_BYTES = process.platform === 'linux' ? 107 : 103;
/** Windows pipe names: `\\.\pipe\name` or `\\?\pipe\name`, at most 256 characters in all. */
const PIPE_PREFIX = /^\\\\[.?]\\pipe\\[^\\]/i;
const MAX_PIPE_CHARACTERS = 256;

/** Whether `path` names a Windows named pipe rather than a file. */
export function isNamedPipe(path: string): boolean {
  return PIPE_PREFIX.test(path);
}

/** `path` checked as option `name`: a socket path on Unix, a pipe name on Windows. */
export function checkLocalPath(name: string, path: unknown, platform = process.platform): string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new OptionError(`option ${name} must be a non-empty string without NUL, got ${typeof path === 'string' ? JSON.stringify(path) : String(path)}`, name);
  }
  if (platform === 'win32') {
    if (!isNamedPipe(path) || path.length > MAX_PIPE_CHARACTERS) {
      throw new OptionError(`option ${name} must be a named pipe, \\\\.\\pipe\\NAME, of at most ${MAX_PIPE_CHARACTERS} characters on Windows, got ${JSON.stringify(path)}`, name);
    }
    return path;
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new OptionError(`option ${name} must be at most ${MAX_UNIX_PATH_BYTES} bytes (the sun_path limit), got ${bytes}`, name);
  }
  return path;
}

/** An error of the kind net.Server's listen() gives for an address in use. */
function addressInUse(path: string, why: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`listen EADDRINUSE: ${path} ${why}`);
  error.code = 'EADDRINUSE';
  error.syscall = 'listen';
  error.path = path;
  return error;
}

/**
 * Makes `path` free to listen on: nothing to do if it does not exist; a stale socket file (nothing
 * accepts on it) is removed; a live socket, or anything that is not a socket, is refused with
 * EADDRINUSE. Named pipes have no file and are left to the system.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  if (isNamedPipe(path)) return;
  let stat: fs.Stats;
  try {
    stat = await fs.promises.lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket()) throw addressInUse(path, 'exists and is not a socket; it is left alone');
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: a socket file no process listens on. Any other failure is taken as live too,
    // so that nothing is removed that might be in use.
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'));
  });
  if (live) throw addressInUse(path, 'is a socket another process listens on');
  try {
    await fs.promises.unlink(path);
  } catch (error) {
    // Removed meanwhile by someone else: free all the same.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Sets the socket file's permission bits (no-op for a named pipe). */
export async function applyPathMode(path: string, mode: number | undefined): Promise<void> {
  if (mode === undefined || isNamedPipe(path)) return;
  await fs.promises.chmod(path, mode);
}

/**
 * Listens `server` on the local socket `path`: a stale socket file is removed first (see
 * clearStaleSocket), and the file gets `mode` once it exists. Between the bind and the chmod the
 * file has the process's umask; a directory only the server's user may enter closes that gap.
 */
export async function listenLocal(server: net.Server, path: string, mode: number | undefined): Promise<void> {
  await clearStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await applyPathMode(path, mode);
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }
}

/** A client's stream to the local socket `path`. */
export function dialLocal(path: string): net.Socket {
  return net.connect({ path, allowHalfOpen: true });
}
