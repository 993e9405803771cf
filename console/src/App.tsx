/** The frame: who is signed in, the navigation, and the page for the current path. */
import { createContext, useContext, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Link, match, usePath } from './router.js';
import { allows, loadSession, signOut, storeToken, type Role, type Session } from './session.js';
import { useLiveUpdates } from './live.js';
import { RefreshButton } from './ui.js';
import { ItemsPage } from './pages/Items.js';
import { ItemPage } from './pages/Item.js';
import { ReservationPage } from './pages/Reservation.js';
import { PartsPage } from './pages/Parts.js';
import { PartPage } from './pages/Part.js';
import { LocationsPage } from './pages/Locations.js';
import { WorkOrderPage } from './pages/WorkOrder.js';
import { OperationsPage } from './pages/Operations.js';

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session | null {
  return useContext(SessionContext);
}

/** Renders its children only when the signed-in role may do what they do (the server checks again). */
export function Allowed({ role, children }: { role: Role; children: ReactNode }) {
  return allows(useSession(), role) ? <>{children}</> : null;
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const query_client = useQueryClient();
  if (!session) return <SignIn onSignIn={setSession} />;
  const leave = () => {
    signOut();
    query_client.clear();
    setSession(null);
  };
  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <strong className="brand">Stockroom</strong>
        <nav aria-label="Main">
          <Link to="/items">Items</Link>
          <Link to="/reservations">Reservations</Link>
          <Link to="/parts">Parts</Link>
          <Link to="/locations">Locations</Link>
          <Link to="/work-orders">Work orders</Link>
          <Allowed role="admin">
            <Link to="/operations">Operations</Link>
          </Allowed>
        </nav>
        <div className="who" aria-label="Signed in as">
          <span data-testid="who-sub">{session.subject}</span>
          <span className="muted"> · tenant </span>
          <span data-testid="who-tenant">{session.tenant}</span>
          <span className="muted"> · </span>
          <span className="role" data-testid="who-role">{session.role ?? 'no role'}</span>
          <LiveIndicator />
          <RefreshButton />
          <button type="button" onClick={leave}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page />
      </main>
    </SessionContext.Provider>
  );
}

/** Whether pages follow the event stream; its own component so only it re-renders on a status change. */
function LiveIndicator() {
  const status = useLiveUpdates();
  return (
    <span className={`live live-${status}`} data-testid="live" title="Pages re-read when stock changes">
      {status === 'live' ? '● live' : status === 'connecting' ? '○ connecting' : '○ offline'}
    </span>
  );
}

function Page() {
  const path = usePath();
  let params;
  if ((params = match('/items/:product', path))) return <ItemPage key={params.product} productId={params.product} />;
  if ((params = match('/reservations/:reference', path))) return <ReservationPage key={params.reference} reference={params.reference} />;
  if (match('/reservations', path)) return <ReservationPage reference="" />;
  if ((params = match('/parts/:part', path))) return <PartPage key={params.part} partId={params.part} />;
  if (match('/parts', path)) return <PartsPage />;
  if (match('/locations', path)) return <LocationsPage />;
  if ((params = match('/work-orders/:id', path))) return <WorkOrderPage key={params.id} workOrderId={params.id} />;
  if (match('/work-orders', path)) return <WorkOrderPage workOrderId="" />;
  if (match('/operations', path)) return <OperationsPage />;
  return <ItemsPage />;
}

function SignIn({ onSignIn }: { onSignIn: (session: Session) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  return (
    <main id="main" className="sign-in">
      <h1>Stockroom admin</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const session = storeToken(text);
          if (session) onSignIn(session);
          else setError('That is not a JWT (three base64url parts separated by dots).');
        }}
      >
        <label htmlFor="token">Bearer token</label>
        <textarea id="token" rows={5} value={text} onChange={(event) => setText(event.target.value)} aria-invalid={error ? true : undefined} aria-describedby="token-help token-error" spellCheck={false} />
        <small id="token-help" className="muted">
          Paste a token, or open the link <code>npm run token -- --tenant … --role … --sub …</code> prints. It is kept in this tab only.
        </small>
        {error && (
          <span id="token-error" className="field-error">
            {error}
          </span>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
