// The shell: a navigation bar and one page at a time, chosen by the URL's #hash.
import { useEffect, useState } from "react";
import { BacktestPage } from "./pages/BacktestPage";
import { DashboardPage } from "./pages/DashboardPage";
import { DataPage } from "./pages/DataPage";
import { ModelsPage } from "./pages/ModelsPage";
import { SettingsPage } from "./pages/SettingsPage";
import { TrainingPage } from "./pages/TrainingPage";

export const PAGES = {
  dashboard: { title: "Dashboard", Page: DashboardPage },
  data: { title: "Data", Page: DataPage },
  training: { title: "Training", Page: TrainingPage },
  backtest: { title: "Backtest", Page: BacktestPage },
  models: { title: "Models", Page: ModelsPage },
  settings: { title: "Settings", Page: SettingsPage },
} as const;

export type PageName = keyof typeof PAGES;

export function pageFromHash(hash: string): PageName {
  const name = hash.replace(/^#\/?/, "");
  return name in PAGES ? (name as PageName) : "dashboard";
}

export function App() {
  const [page, setPage] = useState<PageName>(pageFromHash(window.location.hash));
  useEffect(() => {
    const follow = () => setPage(pageFromHash(window.location.hash));
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  const { Page, title } = PAGES[page];
  return (
    <div>
      <nav className="nav">
        <span className="brand">tradecast</span>
        {Object.entries(PAGES).map(([name, entry]) => (
          <a key={name} href={`#/${name}`} className={name === page ? "active" : ""}>
            {entry.title}
          </a>
        ))}
      </nav>
      <main data-testid={`page-${page}`}>
        <h1>{title}</h1>
        <Page />
      </main>
    </div>
  );
}
