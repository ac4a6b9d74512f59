/**
 * A relay between a client and a server's UDP port that keeps a copy of every datagram, both
 * ways, and lets a test change, withhold or resend them: what an attacker on the path can do. The
 * client sends to `port`; the server sees its datagrams come from `sourcePort`.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

const LOOPBACK = '127.0.0.1';

/** Returns the datagram to forward (the same or another Buffer), or undefined to withhold it. */
export type Tamper = (datagram: Buffer) => Buffer | undefined;

export class UdpTap {
  /** Every datagram the client sent, as it came, forwarded or not. */
  readonly toServer: Buffer[] = [];
  /** Every datagram the server sent to the client. */
  readonly toClient: Buffer[] = [];
  onToServer: Tamper | undefined;
  onToClient: Tamper | undefined;
  private client: { address: string; port: number } | undefined;
  private back: dgram.Socket;
  private readonly retired: dgram.Socket[] = [];

  private constructor(
    private readonly front: dgram.Socket,
    back: dgram.Socket,
    private readonly serverPort: number,
  ) {
    this.back = back;
    front.on('message', (bytes, from) => {
      this.client = { address: from.address, port: from.port };
      this.toServer.push(Buffer.from(bytes));
      const forwarded = this.onToServer === undefined ? bytes : this.onToServer(Buffer.from(bytes));
      if (forwarded !== undefined) this.back.send(forwarded, this.serverPort, LOOPBACK);
    });
    this.listenBack(back);
  }

  static async start(serverPort: number): Promise<UdpTap> {
    return new UdpTap(await boundSocket(), await boundSocket(), serverPort);
  }

  /** Where the client must send. */
  get port(): number {
    return this.front.address().port;
  }

  /** The source port the server sees the client's datagrams come from. */
  get sourcePort(): number {
    return this.back.address().port;
  }

  /** Sends `datagram` to the server from the client's address as the server sees it. */
  resendToServer(datagram: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.back.send(datagram, this.serverPort, LOOPBACK, (error) => (error ? reject(error) : resolve())));
  }

  /** Sends `datagram` to the client from the server's address as the client sees it. */
  resendToClient(datagram: Buffer): Promise<void> {
    const client = this.client;
    if (client === undefined) return Promise.reject(new Error('the client has sent nothing yet'));
    return new Promise((resolve, reject) => this.front.send(datagram, client.port, client.address, (error) => (error ? reject(error) : resolve())));
  }

  /** Forwards from a new socket from now on, as a NAT that rebinds. */
  async rebind(): Promise<void> {
    this.retired.push(this.back);
    this.back = await boundSocket();
    this.listenBack(this.back);
  }

  async close(): Promise<void> {
    await Promise.all([this.front, this.back, ...this.retired].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private listenBack(socket: dgram.Socket): void {
    socket.on('message', (bytes) => {
      this.toClient.push(Buffer.from(bytes));
      const forwarded = this.onToClient === undefined ? bytes : this.onToClient(Buffer.from(bytes));
      if (forwarded !== undefined && this.client !== undefined) this.front.send(forwarded, this.client.port, this.client.address);
    });
  }
}

async function boundSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  socket.bind(0, LOOPBACK);
  await once(socket, 'listening');
  return socket;
}
