import { Route, Routes } from "react-router-dom";

import "./support.css";
import { ThreadList } from "./ThreadList";
import { ThreadView } from "./ThreadView";

/** Support (R-10..R-14): the thread list, and a thread at /support/threads/:threadId (R-06's push target). */
export default function SupportRoutes() {
  return (
    <Routes>
      <Route index element={<ThreadList />} />
      <Route path="threads/:threadId" element={<ThreadView />} />
    </Routes>
  );
}
