const es = { title: "instances" };

const en: typeof es = { title: "instances" };

export default { es, en };
