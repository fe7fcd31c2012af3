import { useEffect } from "preact/hooks";
import { Banner } from "./components.tsx";
import { clockTime, duration } from "./format.ts";
import { Link, useRoute } from "./router.tsx";
import { type ExplorerState, useExplorer, useNow } from "./state.ts";
import { BlockPage } from "./views/block.tsx";
import { ChainList } from "./views/chain.tsx";
import { CheckpointPanel } from "./views/checkpoint.tsx";
import { DifficultyView } from "./views/difficulty.tsx";
import { ForkView, ReorgBanner } from "./views/forks.tsx";
import { LightBanner, LightPanel, TipMark } from "./views/light.tsx";
import { DevnetStrip, Overview, PeersView } from "./views/overview.tsx";
import { Race } from "./views/race.tsx";
import { AuthorPage, PendingPanel, RecordPage, SearchBox } from "./views/records.tsx";

/** How long the latest reorg stays as a banner at the top of the page (it stays in the fork view's log). */
const REORG_BANNER_MS = 120_000;

function Connection(props: { s: ExplorerState }) {
  const { s } = props;
  const [cls, text] = s.unreachable
    ? ["down", "node unreachable"]
    : s.stream === "live"
      ? ["live", "live"]
      : s.stream === "connecting"
        ? ["wait", "connecting…"]
        : ["wait", "reconnecting…"];
  return (
    <span
      class={`conn ${cls}`}
      data-testid="connection"
      data-state={s.unreachable ? "unreachable" : s.stream}
    >
      <i /> {text}
    </span>
  );
}

/** Problems with the connection, worded for someone who does not know what SSE is. */
function ConnectionBanners(props: { s: ExplorerState; now: number }) {
  const { s, now } = props;
  const since = s.lastContact
    ? ` Last answer at ${clockTime(s.lastContact / 1000)}; what is shown is from then.`
    : "";
  return (
    <>
      {s.unreachable && (
        <Banner kind="error" testid="banner-unreachable">
          <strong>Node unreachable{s.stream === "live" ? "" : " — stream dropped, reconnecting"}.</strong> The
          node at {location.host} does not answer ({s.unreachable}). Is it still running? Retrying every few
          seconds.
          {since}
        </Banner>
      )}
      {!s.unreachable && s.stream === "reconnecting" && (
        <Banner kind="warn" testid="banner-stream">
          <strong>Live stream dropped — reconnecting</strong>
          {s.streamDownSince ? ` (for ${duration(Math.max(0, now - s.streamDownSince) / 1000)})` : ""}. New
          blocks will show once it is back; the page then reloads what it missed.
        </Banner>
      )}
      {s.error && !s.unreachable && (
        <Banner kind="error" testid="banner-error">
          The node answered with an error: {s.error}
        </Banner>
      )}
    </>
  );
}

function Home(props: { s: ExplorerState; now: number }) {
  const { s, now } = props;
  const latest = s.reorgs[0];
  return (
    <>
      {latest && now - latest.at < REORG_BANNER_MS && <ReorgBanner r={latest} now={now} />}
      <DevnetStrip s={s} />
      <Overview s={s} now={now} />
      <div class="grid2 main-grid">
        <ChainList s={s} now={now} spacing={s.info?.targetSpacing} />
        <ForkView s={s} now={now} />
      </div>
      <div class="grid2">
        <div>
          <LightPanel />
          <PendingPanel s={s} />
          <Race s={s} />
          <PeersView s={s} />
          <CheckpointPanel />
        </div>
        <DifficultyView s={s} />
      </div>
    </>
  );
}

export function App() {
  const s = useExplorer();
  const now = useNow(1000);
  const route = useRoute();
  useEffect(() => {
    if (route.page === "home" || route.page === "missing")
      document.title = s.status ? `#${s.status.tip.height} · jbc explorer` : "jbc explorer";
  }, [route.page, s.status?.tip.height]);
  return (
    <div class="app">
      <header class="top">
        <Link href="/" class="brand">
          jbc <span>explorer</span>
        </Link>
        {s.info && <span class="tag net">{s.info.network}</span>}
        {s.status && (
          <span class="muted" data-testid="top-height">
            tip #{s.status.tip.height} <TipMark tip={s.status.tip} />
          </span>
        )}
        <span class="spacer" />
        <SearchBox />
        <Connection s={s} />
      </header>
      <main>
        <ConnectionBanners s={s} now={now} />
        <LightBanner s={s} />
        {route.page === "home" && <Home s={s} now={now} />}
        {route.page === "block" && <BlockPage id={route.id} />}
        {route.page === "record" && <RecordPage id={route.id} />}
        {route.page === "author" && <AuthorPage publicKey={route.key} />}
        {route.page === "missing" && (
          <div class="page-error">
            <h1>No such page</h1>
            <p>
              <code>{route.path}</code> is not a page of the explorer. <Link href="/">Go to the chain</Link>.
            </p>
          </div>
        )}
      </main>
      <footer>
        jbc node {s.status?.version ?? ""} · data from <a href="/api/status">/api/status</a>,{" "}
        <a href="/api/tree">/api/tree</a> and the live stream <code>/api/events</code>
      </footer>
    </div>
  );
}
