// The dashboard page: polls /api/figures once a second and draws the server's message rates, RTT
// and sessions with uPlot (served by the package itself). Rates are differences between polls.
/* global uPlot */
(() => {
  const POLL_MS = 1000;
  const HISTORY = 300;
  const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const $ = (id) => document.getElementById(id);

  const history = { time: [], in: [], out: [], rtt: [], sessions: [] };
  let previous;
  let typesBefore = new Map();

  function chart(element, series, colors) {
    const width = () => Math.max(320, element.clientWidth || element.parentElement.clientWidth - 24);
    const plot = new uPlot(
      {
        width: width(),
        height: 220,
        scales: { x: { time: true } },
        series: [{}, ...series.map((label, i) => ({ label, stroke: colors[i], width: 2, fill: `${colors[i]}1a` }))],
        axes: [{}, { size: 60 }],
        legend: { live: false },
      },
      [[], ...series.map(() => [])],
      element,
    );
    window.addEventListener('resize', () => plot.setSize({ width: width(), height: 220 }));
    return plot;
  }

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const charts = {
    rates: chart($('chart-rates'), ['in', 'out'], [color('--in'), color('--out')]),
    rtt: chart($('chart-rtt'), ['RTT ms'], [color('--rtt')]),
    sessions: chart($('chart-sessions'), ['sessions'], [color('--sessions')]),
  };

  function uptime(ms) {
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  }

  function push(key, value) {
    history[key].push(value);
    if (history[key].length > HISTORY) history[key].shift();
  }

  function render({ stats, figures, target }, at) {
    const messagesIn = stats.tcp.messagesIn + stats.udp.messagesIn;
    const messagesOut = stats.tcp.messagesOut + stats.udp.messagesOut;
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    const rateIn = previous && seconds > 0 ? Math.max(0, (messagesIn - previous.messagesIn) / seconds) : null;
    const rateOut = previous && seconds > 0 ? Math.max(0, (messagesOut - previous.messagesOut) / seconds) : null;
    previous = { at, messagesIn, messagesOut };

    $('target').textContent = target;
    $('uptime').textContent = uptime(stats.uptimeMs);
    $('sessions').textContent = format.format(stats.connectedClients);
    $('tcp-in').textContent = format.format(stats.tcp.messagesIn);
    $('tcp-out').textContent = format.format(stats.tcp.messagesOut);
    $('udp-in').textContent = format.format(stats.udp.messagesIn);
    $('udp-out').textContent = format.format(stats.udp.messagesOut);
    $('refused').textContent = format.format(stats.refusedConnections);
    $('drops').textContent = format.format(Object.values(figures.drops).reduce((sum, n) => sum + n, 0));
    $('rate-in').textContent = rateIn === null ? '–' : format.format(rateIn);
    $('rate-out').textContent = rateOut === null ? '–' : format.format(rateOut);
    $('rtt').textContent = figures.rtt.meanMs === null ? '–' : `${figures.rtt.meanMs.toFixed(2)} ms`;

    push('time', Date.now() / 1000);
    push('in', rateIn);
    push('out', rateOut);
    push('rtt', figures.rtt.meanMs);
    push('sessions', stats.connectedClients);
    charts.rates.setData([history.time, history.in, history.out]);
    charts.rtt.setData([history.time, history.rtt]);
    charts.sessions.setData([history.time, history.sessions]);

    const rows = figures.types.slice(0, 10).map(({ type, messages }) => {
      const before = typesBefore.get(type);
      const rate = before === undefined || seconds <= 0 ? null : (messages - before) / seconds;
      return { type, messages, rate };
    });
    typesBefore = new Map(figures.types.map(({ type, messages }) => [type, messages]));
    const body = $('types');
    body.replaceChildren(
      ...rows.map(({ type, messages, rate }) => {
        const row = document.createElement('tr');
        for (const [text, number] of [[type, false], [rate === null ? '–' : format.format(rate), true], [format.format(messages), true]]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          if (number) cell.className = 'number';
          row.append(cell);
        }
        return row;
      }),
    );
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  }

  async function poll() {
    try {
      const response = await fetch('api/figures', { cache: 'no-store' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json(), performance.now());
      $('status').textContent = 'live';
      $('status').className = '';
    } catch (error) {
      $('status').textContent = `no data: ${error.message}`;
      $('status').className = 'stale';
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
