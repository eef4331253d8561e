// Instances (R-01, R-03, R-20..R-26): list, detail and actions, licenses, the new-instance wizard, companies.
import { Route, Routes } from "react-router-dom";

import { CompanyDetail, CompanyList } from "./Companies";
import { EditInstance } from "./EditInstance";
import { InstanceDetail } from "./InstanceDetail";
import { InstanceList } from "./InstanceList";
import { AddLicenses, LicenseDetail, LicenseList } from "./Licenses";
import { ProvisioningPage, Wizard } from "./Wizard";
import "./instances.css";

export default function InstancesRoutes() {
  return (
    <div className="instances-section">
      <Routes>
        <Route index element={<InstanceList />} />
        <Route path="new" element={<Wizard />} />
        <Route path="provisionings/:provisioningId" element={<ProvisioningPage />} />
        <Route path="companies" element={<CompanyList />} />
        <Route path="companies/:companyId" element={<CompanyDetail />} />
        <Route path=":instanceId" element={<InstanceDetail />} />
        <Route path=":instanceId/edit" element={<EditInstance />} />
        <Route path=":instanceId/licenses" element={<LicenseList />} />
        <Route path=":instanceId/licenses/new" element={<AddLicenses />} />
        <Route path=":instanceId/licenses/:licenseId" element={<LicenseDetail />} />
      </Routes>
    </div>
  );
}
