import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { TransportProvider } from '@connectrpc/connect-query';
import { App } from './App.js';
import { adoptTokenFromUrl } from './session.js';
import { transport } from './transport.js';
import './styles.css';

// Before anything renders: the token leaves the address bar and history.
adoptTokenFromUrl();

const query_client = new QueryClient({
  defaultOptions: {
    // The server is the authority; re-read on focus and on Refresh, and do
    // not retry calls a person has to fix (bad input, missing rights).
    queries: { retry: 1, staleTime: 5_000, refetchOnWindowFocus: true },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <TransportProvider transport={transport}>
      <QueryClientProvider client={query_client}>
        <App />
      </QueryClientProvider>
    </TransportProvider>
  </StrictMode>,
);
