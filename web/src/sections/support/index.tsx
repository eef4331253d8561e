import { Route, Routes } from "react-router-dom";

import { CannedReplyEdit, CannedReplyList } from "./CannedReplies";
import { SearchPage } from "./SearchPage";
import "./support.css";
import { ThreadList } from "./ThreadList";
import { ThreadView } from "./ThreadView";

/** Support (R-10..R-14): the thread list, a thread at /support/threads/:threadId (R-06's push target;
 * `?message=` opens it at a message), the search across messages and (staff) the canned replies. */
export default function SupportRoutes() {
  return (
    <Routes>
      <Route index element={<ThreadList />} />
      <Route path="threads/:threadId" element={<ThreadView />} />
      <Route path="search" element={<SearchPage />} />
      <Route path="canned-replies" element={<CannedReplyList />} />
      <Route path="canned-replies/new" element={<CannedReplyEdit />} />
      <Route path="canned-replies/:replyId" element={<CannedReplyEdit />} />
    </Routes>
  );
}
